//! Scaffolding (kubebuilder for Rust): `kubeforge new` lays out an operator project,
//! `kubeforge create api` adds a custom resource with its controller, sample and test, and
//! `kubeforge create webhook` a defaulter, validator and/or conversion webhook for it. The generated code uses
//! kubeforge-runtime as the repository's own operators do, and its tests run the controllers
//! and webhooks against kubeforge-apiserver in process.
//!
//! | file | mechanism |
//! |---|---|
//! | `names.rs` | what names are accepted, and the names derived from them |
//! | `template.rs` | the templates' language (`{{value}}`, `{{#if flag}}` lines) |
//! | `project.rs` | the `PROJECT` record: domain, APIs, layout |
//! | `listing.rs` | the files that list the APIs and controllers, rewritten from `PROJECT` |
//! | `staging.rs` | render into a staging directory, format, then move into place |
//! | `new.rs` | `kubeforge new` |
//! | `create_api.rs` | `kubeforge create api` |
//! | `create_webhook.rs` | `kubeforge create webhook` |
//!
//! The templates are files under `crates/cli/templates/`, embedded with `include_str!`.

pub mod create_api;
pub mod create_webhook;
pub mod listing;
pub mod names;
pub mod new;
pub mod project;
pub mod staging;
pub mod template;

use clap::Subcommand;

/// `kubeforge create` subcommands.
#[derive(Subcommand, Debug)]
pub enum CreateCommand {
    /// Add an API: a custom resource type, its controller, a sample and a test.
    Api(create_api::CreateApiArgs),
    /// Add webhooks for an API: a defaulter, a validator and/or a conversion between its
    /// versions, and their tests.
    Webhook(create_webhook::CreateWebhookArgs),
}

/// `kubeforge create`.
pub fn create(command: &CreateCommand) -> anyhow::Result<()> {
    match command {
        CreateCommand::Api(args) => create_api::create_api(args),
        CreateCommand::Webhook(args) => create_webhook::create_webhook(args),
    }
}
