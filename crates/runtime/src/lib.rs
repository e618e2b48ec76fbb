//! kubeforge-runtime: client-go's and controller-runtime's machinery, on top of kube-rs.
//!
//! kube-rs supplies the client, configuration and the list/watch loop (`kube::runtime::watcher`);
//! this crate adds what controllers are built from in the Go world, in the names Go developers
//! know: informers with indexers, a shared informer factory, listers, a rate-limited work queue,
//! a controller builder, client helpers, status conditions, finalizers, an event recorder, a
//! manager and an admission webhook server.

pub mod cache;
pub mod client;
pub mod conditions;
pub mod controller;
pub mod events;
pub mod finalizer;
pub mod manager;
pub mod webhook;
pub mod workqueue;
