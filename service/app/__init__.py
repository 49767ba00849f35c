"""Use cases: one function per operation, given the App (store, clock, caches) and
the caller. Permission rules of SPEC §4 are applied here."""
