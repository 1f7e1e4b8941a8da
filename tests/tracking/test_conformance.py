"""Every store passes the conformance suite of sagescale.testing.stores."""

from __future__ import annotations

from sagescale.testing.stores import StoreConformance


class TestStoreConformance(StoreConformance):
    pass
