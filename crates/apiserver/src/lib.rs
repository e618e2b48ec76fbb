//! kubeforge-apiserver: an embeddable, Kubernetes-compatible API server.

pub mod admission;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod controllers;
pub mod crd;
pub mod fieldpath;
pub mod http;
pub mod keyorder;
pub mod openapi;
pub mod protobuf;
pub mod quantity;
pub mod quota;
pub mod registry;
pub mod resource;
pub mod rest;
pub mod selector;
mod server;
pub mod status;
pub mod storage;
pub mod strategy;
pub mod table;
pub mod tls;
pub mod validation;
pub mod yaml;

pub use http::filters::RequestLimits;
pub use http::serve::{ConnectionLimits, raise_fd_limit};
pub use server::{ApiServer, ApiServerBuilder, StartError, kubeconfig_value};
