//! Informers, indexers, listers.
