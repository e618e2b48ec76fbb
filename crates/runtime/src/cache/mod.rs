//! Informers, indexers, listers: client-go's `tools/cache`, fed by kube-rs's `watcher`.
//!
//! ```text
//! kube::runtime::watcher ──events──▶ Informer ──▶ Store (items + indexes) ◀── Lister
//!                                        │
//!                                        └──▶ one task per EventHandler (add / update / delete)
//! SharedInformerFactory: one Informer (one watch) per (type, namespace, selectors)
//! ```
//!
//! | file | mechanism |
//! |---|---|
//! | `store.rs` | the thread-safe cache: `namespace/name` -> `Arc<K>` |
//! | `index.rs` | secondary indexes: the built-in namespace index, custom [`IndexFunc`]s |
//! | `informer.rs` | watcher events -> cache changes + handler notifications; relist diff with tombstones; resync |
//! | `handler.rs` | what handlers are told: [`EventHandler`], [`DeleteEvent`], [`HandlerFuncs`] |
//! | `listener.rs` | ordered delivery to one handler on its own task, its own has-synced |
//! | `synced.rs` | [`InformerSynced`], [`wait_for_cache_sync`] |
//! | `shared_informer_factory.rs` | [`SharedInformerFactory`]: one informer per watched thing |
//! | `lister.rs` | [`Lister`], [`NamespaceLister`] |
//!
//! Where this differs from client-go, and why:
//! - There is no DeltaFIFO: kube-rs's watcher already delivers events in order, one at a time,
//!   and a (re)list as `Init` / `InitApply`... / `InitDone`; the informer applies each event to
//!   the cache and queues the notifications in the same step.
//! - A late `SharedInformerFactory::informer` call after `start` starts the informer itself.
//! - Label selectors on listers are kube-rs's typed `Selector` (see [`Lister`]).

mod handler;
mod index;
mod informer;
mod listener;
mod lister;
mod shared_informer_factory;
mod store;
mod synced;

pub use handler::{DeleteEvent, EventHandler, HandlerFuncs};
pub use index::{IndexError, IndexFunc, NAMESPACE_INDEX};
pub use informer::{HandlerRegistration, Informer};
pub use lister::{Lister, NamespaceLister};
pub use shared_informer_factory::{InformerScope, ScopedApi, SharedInformerFactory};
pub use store::{Store, key_for, object_key, split_key};
pub use synced::{InformerSynced, wait_for_cache_sync};
