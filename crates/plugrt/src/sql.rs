//! DataFusion integration (feature `datafusion`): [`Plugin`] as a [`UdfPlugin`],
//! [`Runtime`] as the [`PluginCatalog`] plans' UDFs are resolved in, [`Runtime::register_udfs`]
//! and [`Runtime::codec`]; with feature `ballista`, [`Runtime::ballista_standalone`].

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use plugrt_contract::{AggregateOp, CallOptions, Description, Error, Limits};
use plugrt_datafusion::datafusion::execution::context::SessionContext;
use plugrt_datafusion::datafusion::execution::memory_pool::MemoryPool;
use plugrt_datafusion::{CodecOptions, Naming, PluginCatalog, PluginCodec, PluginIdentity, UdfPlugin};

use crate::{Plugin, Runtime};

impl UdfPlugin for Plugin {
    fn description(&self) -> Arc<Description> {
        Plugin::description(self)
    }
    fn limits(&self) -> Limits {
        Plugin::limits(self)
    }
    fn call(&self, function: &str, batch: &RecordBatch, options: &CallOptions) -> Result<ArrayRef, Error> {
        Plugin::call_with(self, function, batch, options)
    }
    fn aggregate(
        &self,
        function: &str,
        op: AggregateOp,
        states: &RecordBatch,
        rows: Option<&RecordBatch>,
        options: &CallOptions,
    ) -> Result<RecordBatch, Error> {
        Plugin::aggregate_reported(self, function, op, states, rows, options).0
    }
    fn identity(&self) -> PluginIdentity {
        Plugin::identity(self)
    }
}

/// Plans' plugins are looked up by name among the registered plugins; plugins a
/// self-contained plan brings (when the codec's `CodecOptions::plan_bytes` lets it load them)
/// are loaded with the runtime's default options, under its budget, and not registered (the
/// codec holds them).
impl PluginCatalog for Runtime {
    fn plugin(&self, name: &str) -> Option<Arc<dyn UdfPlugin>> {
        Runtime::plugin(self, name).map(|p| Arc::new(p) as Arc<dyn UdfPlugin>)
    }
    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn UdfPlugin>, Error> {
        let plugin = self.load_unregistered(bytes, self.options(None))?;
        Ok(Arc::new(plugin))
    }
}

impl Runtime {
    /// Registers every function of every plugin loaded now as a UDF of `ctx`, aggregates as
    /// aggregate UDFs (see
    /// `plugrt::datafusion::register`); returns the SQL names. Plugins loaded later are not
    /// added: call it again, or [`plugrt_datafusion::register`] for one plugin.
    pub fn register_udfs(&self, ctx: &SessionContext, naming: Naming) -> Vec<String> {
        self.loaded()
            .into_iter()
            .flat_map(|plugin| plugrt_datafusion::register(ctx, Arc::new(plugin), naming))
            .collect()
    }

    /// The codec state that carries this runtime's UDFs in DataFusion plans and resolves the
    /// plugins of plans it receives in this runtime (see `plugrt::datafusion::codec`); UDFs it
    /// decodes take their calls' memory from `memory`. Wrap DataFusion's or Ballista's codecs
    /// with [`PluginCodec::logical`] and [`PluginCodec::physical`].
    pub fn codec(&self, memory: Arc<dyn MemoryPool>, options: CodecOptions) -> Arc<PluginCodec> {
        PluginCodec::new(Arc::new(self.clone()), memory, options)
    }

    /// A Ballista session of `config` with an in-process scheduler and executor (feature
    /// `ballista`) whose plans carry this runtime's UDFs, with every function of every plugin
    /// loaded now registered under `naming`. Needs a Tokio runtime. See
    /// `plugrt::datafusion::ballista::standalone`.
    #[cfg(feature = "ballista")]
    pub async fn ballista_standalone(
        &self,
        config: plugrt_datafusion::datafusion::prelude::SessionConfig,
        naming: Naming,
        options: CodecOptions,
    ) -> plugrt_datafusion::datafusion::common::Result<SessionContext> {
        let ctx = plugrt_datafusion::ballista::standalone(config, Arc::new(self.clone()), options).await?;
        self.register_udfs(&ctx, naming);
        Ok(ctx)
    }
}
