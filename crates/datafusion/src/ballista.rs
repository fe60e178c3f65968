//! Plugin UDFs on Ballista, DataFusion's distributed engine (feature `ballista`).
//!
//! Ballista ships each query's logical plan from the client to the scheduler and each
//! stage's physical plan from the scheduler to the executors, through the extension codecs
//! of the session's configuration. [`config`] sets codecs that carry plugin UDFs (see
//! [`crate::codec`]) and pass everything else to Ballista's own codecs, which they wrap:
//! setting a codec replaces Ballista's, whose plan nodes (shuffle readers and writers, …)
//! every stage needs.
//!
//! [`standalone`] starts a scheduler and an executor in this process, both with those codecs.
//! For a real cluster, every process needs the same codecs and the same plugins:
//!
//! - the client: a session whose configuration went through [`config`], with the plugins'
//!   UDFs registered (to plan the SQL);
//! - the scheduler and each executor: a binary of your own, built on `ballista-scheduler` /
//!   `ballista-executor`, that sets `override_logical_codec` and `override_physical_codec` of
//!   its process configuration to [`logical_codec`] and [`physical_codec`] of a
//!   [`PluginCodec`] over its own `plugrt::Runtime`;
//! - the plugins: either the same `.wasm` files in a plugin folder on every machine (each
//!   process loads it with `Runtime::load_dir`; plans name plugins by hash, so a machine with
//!   another version refuses the plan), or self-contained plans
//!   ([`CodecOptions::self_contained`](crate::CodecOptions::self_contained)), which carry each
//!   plugin's bytes to processes that lack it, and which those processes run only if they opt
//!   in ([`CodecOptions::plan_bytes`](crate::CodecOptions::plan_bytes)).
//!
//! What it does not do: it does not start remote processes, copy plugin folders, or
//! interrupt aggregate steps or scalar calls when a distributed query is cancelled
//! (executors have no [`QueryCancel`](crate::QueryCancel) token: each call runs to its own
//! time limit).

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;

use crate::{CodecOptions, PluginCatalog, PluginCodec};

/// Ballista's logical codec, with plugin UDFs carried by `codec`.
pub fn logical_codec(codec: &Arc<PluginCodec>) -> Arc<dyn LogicalExtensionCodec> {
    codec.logical(Arc::new(BallistaLogicalExtensionCodec::default()))
}

/// Ballista's physical codec, with plugin UDFs carried by `codec`.
pub fn physical_codec(codec: &Arc<PluginCodec>) -> Arc<dyn PhysicalExtensionCodec> {
    codec.physical(Arc::new(BallistaPhysicalExtensionCodec::default()))
}

/// `config` with Ballista's settings and both codecs of [`logical_codec`] and
/// [`physical_codec`].
pub fn config(config: SessionConfig, codec: &Arc<PluginCodec>) -> SessionConfig {
    config
        .upgrade_for_ballista()
        .with_ballista_logical_extension_codec(logical_codec(codec))
        .with_ballista_physical_extension_codec(physical_codec(codec))
}

/// A session of `config` (with Ballista's settings added) on a Ballista scheduler and
/// executor started in this process (Ballista's `standalone`), whose plans carry plugin UDFs
/// resolved in `catalog` on both sides. Register
/// the UDFs on the session it returns ([`crate::register`]) before running SQL; UDFs the
/// executor decodes take their memory from the session's pool. Needs a Tokio runtime; the
/// scheduler and executor run on it until it shuts down.
///
/// The executor advertises one task slot per core (Ballista's default
/// `ballista.standalone.parallelism`).
pub async fn standalone(
    config: SessionConfig,
    catalog: Arc<dyn PluginCatalog>,
    options: CodecOptions,
) -> Result<SessionContext> {
    let runtime = Arc::new(RuntimeEnv::default());
    let codec = PluginCodec::new(catalog, runtime.memory_pool.clone(), options);
    let state = SessionStateBuilder::new()
        .with_config(self::config(config, &codec))
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    SessionContext::standalone_with_state(state).await
}
