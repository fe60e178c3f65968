//! Plugin UDFs in plans that leave the process: DataFusion extension codecs
//! (`datafusion-proto`) that carry every plugrt UDF, scalar and aggregate, as *which plugin,
//! which version, which bytes* and rebuild it on the receiving side from the very same
//! plugin, or fail.
//!
//! A UDF travels as a small payload (see [`PluginCodec`] for its layout): the plugin's name
//! and version, the SHA-256 of the bytes it was loaded from, the function's name, and, when
//! [`CodecOptions::self_contained`] is on, the plugin's bytes themselves. Decoding finds the
//! plugin in the receiving side's [`PluginCatalog`] by name and takes it only if its hash is
//! the plan's; otherwise, only if the receiving side opted in ([`CodecOptions::plan_bytes`]),
//! it loads the plan's bytes (after checking they hash to what the plan says), bounded in
//! size, count and loading time. A missing plugin, another version under the same name,
//! refused or altered bytes or a malformed payload is a [`CodecError`] naming the plugin,
//! never a panic and never a silently different function.
//!
//! Each codec wraps another one (DataFusion's default, or Ballista's) and hands it every
//! UDF that is not a plugin's and every plan node, table provider and file format.
//!
//! What it does not do: it does not ship plugins to a receiving side that has neither the
//! plugin nor a self-contained plan, register the plugins it loads from plans in the catalog
//! (they are held by the codec, keyed by hash), or de-duplicate bytes across the UDFs of one
//! plan: a self-contained plan carries one copy of the plugin per UDF expression.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryPool;
use datafusion::logical_expr::{AggregateUDF, Extension, HigherOrderUDF, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use parking_lot::{Condvar, Mutex};
use plugrt_contract::Error;
use sha2::{Digest, Sha256};

use crate::aggregate::PluginUdaf;
use crate::{PluginUdf, UdfPlugin};
use payload::{HEAD, Kind, MAGIC, Payload};

mod payload;

/// Who a plugin is, as plans name it: its `describe` name and version, the SHA-256 of the
/// bytes it was loaded from and, if it kept them, those bytes (needed for self-contained
/// plans).
#[derive(Clone, PartialEq, Eq)]
pub struct PluginIdentity {
    /// The plugin's name.
    pub name: String,
    /// Its version text.
    pub version: String,
    /// SHA-256 of its wasm bytes.
    pub sha256: [u8; 32],
    /// The wasm bytes, when the plugin was loaded keeping them.
    pub bytes: Option<Arc<[u8]>>,
}

impl PluginIdentity {
    /// The identity of a plugin loaded from `bytes`; keeps the bytes only if `keep`.
    pub fn of(name: impl Into<String>, version: impl Into<String>, bytes: &[u8], keep: bool) -> Self {
        PluginIdentity {
            name: name.into(),
            version: version.into(),
            sha256: sha256(bytes),
            bytes: keep.then(|| Arc::from(bytes)),
        }
    }

    /// The hash as 64 lowercase hex digits (what `sha256sum` prints for the file).
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

impl fmt::Debug for PluginIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginIdentity")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("sha256", &self.sha256_hex())
            .field("bytes", &self.bytes.as_ref().map(|b| b.len()))
            .finish()
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a receiving side finds the plugins a plan names. The `plugrt` crate's `Runtime`
/// implements it (feature `datafusion`).
pub trait PluginCatalog: Send + Sync + 'static {
    /// The plugin registered under `name`, if any (the codec then checks its hash).
    fn plugin(&self, name: &str) -> Option<Arc<dyn UdfPlugin>>;
    /// Loads a plugin from a self-contained plan's bytes, already checked against the plan's
    /// hash. The codec keeps what this returns; it need not be registered by name.
    fn load(&self, bytes: &[u8]) -> Result<Arc<dyn UdfPlugin>, Error>;
}

/// Default [`CodecOptions::max_payload_bytes`]: 64 MiB, twelve times the largest guest this
/// project builds (the JS guest, 5.4 MB with its QuickJS engine).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 64 << 20;

/// How a [`PluginCodec`] encodes and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecOptions {
    /// Put each plugin's bytes in the plan, so that a receiving side without the plugin can
    /// load it (if it opts in with [`plan_bytes`](CodecOptions::plan_bytes)). Every plugin a
    /// plan uses must then have kept its bytes (`plugrt`'s `RuntimeBuilder::keep_bytes`).
    /// Default: off (plans name plugins by hash only).
    pub self_contained: bool,
    /// The largest UDF payload encoded or accepted; a larger one is [`CodecError::TooLarge`].
    /// Default: [`DEFAULT_MAX_PAYLOAD_BYTES`].
    pub max_payload_bytes: usize,
    /// Whether this side runs plugins from the bytes a self-contained plan carries, and within
    /// which bounds. A plan is input from another process: whoever can submit one could make
    /// this side compile and run any wasm. Default `None`: a plan's plugin is resolved only
    /// among the plugins this side has (found by hash), and a plan carrying bytes of any other
    /// is refused with [`CodecError::PlanBytesRefused`].
    pub plan_bytes: Option<PlanBytes>,
}

impl Default for CodecOptions {
    fn default() -> Self {
        CodecOptions { self_contained: false, max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES, plan_bytes: None }
    }
}

/// The bounds within which a receiving side loads plugins from self-contained plans
/// ([`CodecOptions::plan_bytes`]). Defaults: 16 MiB, 16 plugins, 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanBytes {
    /// The largest plugin loaded from a plan (three times the JS guest with its QuickJS
    /// engine, the largest this project builds).
    pub max_plugin_bytes: usize,
    /// Plugins from plans a codec holds for its whole life (they are not evicted, so a stream
    /// of plans cannot make it compile without end); a plan needing one more is refused.
    pub max_plugins: usize,
    /// The longest loading one (compiling it and running its `describe`) may take; past it,
    /// the plan is refused. The compiler cannot be interrupted: it finishes on a thread of its
    /// own. One plan's plugin loads at a time: a decode needing another one meanwhile is
    /// refused at once (it does not block its thread), one needing the same one waits for it
    /// at most this long.
    pub load_timeout: Duration,
}

impl Default for PlanBytes {
    fn default() -> Self {
        PlanBytes { max_plugin_bytes: 16 << 20, max_plugins: 16, load_timeout: Duration::from_secs(10) }
    }
}

/// Why a plugin UDF could not go into a plan or come out of one. Every message names the
/// plugin (or, for a payload too broken to name one, the UDF). Its `Debug` is its message:
/// datafusion-proto wraps decode errors with `{:?}`, and this is what reaches the user.
#[derive(thiserror::Error)]
pub enum CodecError {
    /// The payload is not one this codec writes, or is cut short or padded.
    #[error("the plan's payload for UDF `{udf}` is malformed: {reason}")]
    Malformed {
        /// The UDF's name in the plan.
        udf: String,
        /// What is wrong.
        reason: String,
    },
    /// The payload is larger than [`CodecOptions::max_payload_bytes`].
    #[error("the plan's payload for UDF `{udf}` of plugin `{plugin}` is {bytes} bytes, over the limit of {limit}")]
    TooLarge {
        /// The UDF's name in the plan.
        udf: String,
        /// The plugin, when known.
        plugin: String,
        /// The payload's size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The receiving side has no plugin of that name and the plan does not carry its bytes.
    #[error(
        "plugin `{plugin}` (version {version}, sha256 {sha256}) is not loaded here and the plan does not carry its bytes: load the same file on every executor, or make self-contained plans"
    )]
    UnknownPlugin {
        /// The plugin the plan names.
        plugin: String,
        /// Its version in the plan.
        version: String,
        /// Its hash in the plan.
        sha256: String,
    },
    /// The receiving side's plugin of that name has other bytes, and the plan does not carry
    /// the plan's.
    #[error(
        "plugin `{plugin}` here is version {found_version} (sha256 {found}), but the plan needs version {version} (sha256 {expected}): load the same file on every executor, or make self-contained plans"
    )]
    HashMismatch {
        /// The plugin.
        plugin: String,
        /// The version the plan names.
        version: String,
        /// The hash the plan names.
        expected: String,
        /// The version found here.
        found_version: String,
        /// The hash of the plugin found here.
        found: String,
    },
    /// The plan's bytes do not hash to the plan's hash: the plan was altered.
    #[error(
        "the plan's bytes for plugin `{plugin}` hash to {found}, not to the {expected} the plan names: the plan was altered"
    )]
    Tampered {
        /// The plugin.
        plugin: String,
        /// The hash the plan names.
        expected: String,
        /// The hash of the bytes it carries.
        found: String,
    },
    /// The plugin (with the right hash) declares no such function of that kind.
    #[error("plugin `{plugin}` (sha256 {sha256}) declares no {kind} `{function}`")]
    NoSuchFunction {
        /// The plugin.
        plugin: String,
        /// Its hash.
        sha256: String,
        /// The function the plan names.
        function: String,
        /// `scalar function` or `aggregate`.
        kind: &'static str,
    },
    /// A self-contained plan needs the plugin's bytes, and it did not keep them.
    #[error(
        "plugin `{plugin}` did not keep its bytes, so `{function}` cannot go into a self-contained plan: load it keeping them (plugrt's `RuntimeBuilder::keep_bytes`)"
    )]
    NoBytes {
        /// The plugin.
        plugin: String,
        /// The function being encoded.
        function: String,
    },
    /// The sender could not encode the UDF (its message). Both codecs ship a refusal in the
    /// UDF's place besides returning the error: DataFusion's logical plan encoder drops
    /// encoding errors and would otherwise ship the UDF by name alone, to be taken for
    /// whatever has that name on the receiving side.
    #[error("the sender could not put UDF `{udf}` into the plan: {message}")]
    Refused {
        /// The UDF's name in the plan.
        udf: String,
        /// The sender's error.
        message: String,
    },
    /// The plan carries the bytes of a plugin this side does not have, and this side does not
    /// run plugins from plans, or not this one ([`CodecOptions::plan_bytes`]).
    #[error(
        "plugin `{plugin}` (version {version}, sha256 {sha256}) is not loaded here, and the plan's copy of it is refused: {reason}"
    )]
    PlanBytesRefused {
        /// The plugin the plan names.
        plugin: String,
        /// Its version in the plan.
        version: String,
        /// Its hash in the plan.
        sha256: String,
        /// Which rule refused it.
        reason: String,
    },
    /// The plan's bytes did not load, or loaded as another plugin.
    #[error("the plan's bytes for plugin `{plugin}` did not load: {source}")]
    Load {
        /// The plugin the plan names.
        plugin: String,
        /// Why.
        source: Error,
    },
}

impl fmt::Debug for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<CodecError> for DataFusionError {
    fn from(e: CodecError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// The hash of the plan's plugin loading now, if any, and the signal that its load ended.
type Loading = (Mutex<Option<[u8; 32]>>, Condvar);

/// A plugin loaded from a plan's bytes, with their hash.
type Kept = ([u8; 32], Arc<dyn UdfPlugin>);

/// The state both codecs share: the catalog, the memory pool decoded UDFs take their calls'
/// memory from, the options, and the plugins loaded from self-contained plans.
///
/// Payload layout (little-endian): `PRTU`, format `1`, kind (`0` scalar, `1` aggregate, `2`
/// refusal), flags (`1`: bytes follow), a zero byte, the 32-byte SHA-256, then the plugin
/// name, the version and the function name each as a u16 length and UTF-8, then (flag 1) a
/// u32 length and the plugin's bytes (for a refusal: the sender's error, UTF-8, with a zero
/// hash and empty name and version). Nothing may follow.
pub struct PluginCodec {
    catalog: Arc<dyn PluginCatalog>,
    memory: Arc<dyn MemoryPool>,
    options: CodecOptions,
    from_plans: Mutex<Vec<Kept>>,
    /// Which plan's plugin is loading (on its own thread), and the signal that it ended.
    loading: Arc<Loading>,
}

impl fmt::Debug for PluginCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginCodec")
            .field("options", &self.options)
            .field("plugins_from_plans", &self.from_plans.lock().len())
            .finish_non_exhaustive()
    }
}

impl PluginCodec {
    /// A codec that resolves plugins in `catalog` and gives the UDFs it decodes calls whose
    /// memory is taken from `memory` (the receiving side's session pool, or an
    /// `UnboundedMemoryPool` not to account for it).
    pub fn new(catalog: Arc<dyn PluginCatalog>, memory: Arc<dyn MemoryPool>, options: CodecOptions) -> Arc<Self> {
        let loading = Arc::new((Mutex::new(None), Condvar::new()));
        Arc::new(PluginCodec { catalog, memory, options, from_plans: Mutex::new(Vec::new()), loading })
    }

    /// A logical codec: plugin UDFs through this codec, everything else through `inner`
    /// (`DefaultLogicalExtensionCodec`, or Ballista's).
    pub fn logical(self: &Arc<Self>, inner: Arc<dyn LogicalExtensionCodec>) -> Arc<dyn LogicalExtensionCodec> {
        Arc::new(PluginLogicalCodec { plugins: self.clone(), inner })
    }

    /// A physical codec: plugin UDFs through this codec, everything else through `inner`
    /// (`DefaultPhysicalExtensionCodec`, or Ballista's).
    pub fn physical(self: &Arc<Self>, inner: Arc<dyn PhysicalExtensionCodec>) -> Arc<dyn PhysicalExtensionCodec> {
        Arc::new(PluginPhysicalCodec { plugins: self.clone(), inner })
    }

    /// The options in force.
    pub fn options(&self) -> CodecOptions {
        self.options
    }

    /// Writes the payload of a plugin UDF into `buf`; `Ok(false)` (and nothing written) if
    /// `udf` is not a plugin's.
    pub fn encode_udf(&self, udf: &ScalarUDF, buf: &mut Vec<u8>) -> Result<bool> {
        let Some(udf) = udf.inner().downcast_ref::<PluginUdf>() else { return Ok(false) };
        self.encode(Kind::Scalar, &udf.origin.plugin, &udf.origin.function, buf)?;
        Ok(true)
    }

    /// Writes the payload of a plugin aggregate into `buf`; `Ok(false)` (and nothing
    /// written) if `udaf` is not a plugin's.
    pub fn encode_udaf(&self, udaf: &AggregateUDF, buf: &mut Vec<u8>) -> Result<bool> {
        let Some(udaf) = udaf.inner().downcast_ref::<PluginUdaf>() else { return Ok(false) };
        self.encode(Kind::Aggregate, &udaf.origin.plugin, &udaf.origin.function, buf)?;
        Ok(true)
    }

    /// The plugin UDF `name` a payload describes; `Ok(None)` if `buf` is not a plugrt
    /// payload (it is another codec's).
    pub fn decode_udf(&self, name: &str, buf: &[u8]) -> Result<Option<Arc<ScalarUDF>>> {
        let Some((plugin, payload)) = self.resolve(Kind::Scalar, name, buf)? else { return Ok(None) };
        let description = plugin.description();
        let f = description.function(payload.function).ok_or_else(|| missing(&plugin, &payload))?;
        Ok(Some(Arc::new(PluginUdf::udf(&plugin, name.to_owned(), f, &self.memory))))
    }

    /// The plugin aggregate `name` a payload describes; `Ok(None)` if `buf` is not a plugrt
    /// payload.
    pub fn decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Option<Arc<AggregateUDF>>> {
        let Some((plugin, payload)) = self.resolve(Kind::Aggregate, name, buf)? else { return Ok(None) };
        let description = plugin.description();
        let a = description.aggregate(payload.function).ok_or_else(|| missing(&plugin, &payload))?;
        Ok(Some(Arc::new(PluginUdaf::udaf(&plugin, name.to_owned(), a, &self.memory))))
    }

    fn encode(&self, kind: Kind, plugin: &Arc<dyn UdfPlugin>, function: &str, buf: &mut Vec<u8>) -> Result<()> {
        let identity = plugin.identity();
        let bytes = match (self.options.self_contained, &identity.bytes) {
            (false, _) => None,
            (true, Some(bytes)) => Some(&bytes[..]),
            (true, None) => {
                return Err(CodecError::NoBytes { plugin: identity.name, function: function.to_owned() }.into());
            }
        };
        let texts = [&identity.name[..], &identity.version, function];
        let size = HEAD + texts.iter().map(|t| 2 + t.len()).sum::<usize>() + bytes.map_or(0, |b| 4 + b.len());
        let limit = self.options.max_payload_bytes;
        // Lengths are written as u16 (texts) and u32 (bytes): longer ones do not fit either.
        let unwritable = texts.iter().any(|t| t.len() > u16::MAX as usize) || size > u32::MAX as usize;
        if size > limit || unwritable {
            return Err(
                CodecError::TooLarge { udf: function.to_owned(), plugin: identity.name, bytes: size, limit }.into()
            );
        }
        let payload = Payload {
            kind,
            sha256: identity.sha256,
            plugin: &identity.name,
            version: &identity.version,
            function,
            bytes,
        };
        buf.reserve(size);
        payload.write(buf);
        Ok(())
    }

    /// The plugin a payload names, with the very bytes it names; `None` if `buf` is not a
    /// plugrt payload.
    fn resolve<'a>(&self, kind: Kind, udf: &str, buf: &'a [u8]) -> Result<Option<(Arc<dyn UdfPlugin>, Payload<'a>)>> {
        if !buf.starts_with(&MAGIC) {
            return Ok(None);
        }
        let limit = self.options.max_payload_bytes;
        if buf.len() > limit {
            // Name the plugin if the head says it; the payload is not trusted further.
            let plugin = Payload::read(buf).map(|p| p.plugin.to_owned()).unwrap_or_else(|_| "?".into());
            return Err(CodecError::TooLarge { udf: udf.to_owned(), plugin, bytes: buf.len(), limit }.into());
        }
        let malformed = |reason: String| CodecError::Malformed { udf: udf.to_owned(), reason };
        let payload = Payload::read(buf).map_err(malformed)?;
        if payload.kind == Kind::Refused {
            let message = String::from_utf8_lossy(payload.bytes.unwrap_or_default()).into_owned();
            return Err(CodecError::Refused { udf: udf.to_owned(), message }.into());
        }
        if payload.kind != kind {
            let reason = format!(
                "it describes {} `{}` where {} was expected",
                payload.kind.describe(),
                payload.function,
                kind.describe()
            );
            return Err(malformed(reason).into());
        }
        // Bytes in the plan are checked even when the plugin is found here: altered bytes
        // mean an altered plan.
        if let Some(bytes) = payload.bytes {
            let found = sha256(bytes);
            if found != payload.sha256 {
                let plugin = payload.plugin.to_owned();
                return Err(CodecError::Tampered { plugin, expected: hex(&payload.sha256), found: hex(&found) }.into());
            }
        }
        let named = self.catalog.plugin(payload.plugin);
        let plugin = match named {
            Some(plugin) if plugin.identity().sha256 == payload.sha256 => plugin,
            named => match self.kept(&payload.sha256) {
                Some(plugin) => plugin,
                None => return self.load_from_plan(payload, named).map(Some),
            },
        };
        check_identity(&plugin, &payload)?;
        Ok(Some((plugin, payload)))
    }

    /// The plugin of the plan's own bytes (their hash already checked), kept for later plans;
    /// without bytes, why the plugin `named` here (if any) cannot stand in.
    fn load_from_plan<'a>(
        &self,
        payload: Payload<'a>,
        named: Option<Arc<dyn UdfPlugin>>,
    ) -> Result<(Arc<dyn UdfPlugin>, Payload<'a>)> {
        let Some(bytes) = payload.bytes else {
            let (plugin, version) = (payload.plugin.to_owned(), payload.version.to_owned());
            let error = match named {
                None => CodecError::UnknownPlugin { plugin, version, sha256: hex(&payload.sha256) },
                Some(found) => {
                    let found = found.identity();
                    CodecError::HashMismatch {
                        plugin,
                        version,
                        expected: hex(&payload.sha256),
                        found: found.sha256_hex(),
                        found_version: found.version,
                    }
                }
            };
            return Err(error.into());
        };
        let refuse = |reason: String| CodecError::PlanBytesRefused {
            plugin: payload.plugin.to_owned(),
            version: payload.version.to_owned(),
            sha256: hex(&payload.sha256),
            reason,
        };
        let Some(policy) = self.options.plan_bytes else {
            return Err(refuse(
                "this side runs only plugins it has loaded: load the same file here, or opt in to plans' \
                 bytes (`CodecOptions::plan_bytes`)"
                    .into(),
            )
            .into());
        };
        if bytes.len() > policy.max_plugin_bytes {
            let limit = policy.max_plugin_bytes;
            return Err(
                refuse(format!("it is {} bytes, over the {limit} this side loads from plans", bytes.len())).into()
            );
        }
        let plugin = self.load_bounded(payload.plugin, bytes, &payload.sha256, &policy, &refuse)?;
        check_identity(&plugin, &payload)?;
        let mut kept = self.from_plans.lock();
        // Another decode may have loaded the same bytes meanwhile: keep one.
        if let Some((_, first)) = kept.iter().find(|(hash, _)| *hash == payload.sha256) {
            return Ok((first.clone(), payload));
        }
        // Checked before loading too; two loads finishing close together can both pass that.
        if kept.len() >= policy.max_plugins {
            return Err(refuse(full(&policy)).into());
        }
        kept.push((payload.sha256, plugin.clone()));
        Ok((plugin, payload))
    }

    /// Loads `bytes` (plugin `plugin` of hash `sha256`) on a thread of its own, one plan's
    /// plugin at a time. A decode needing another plugin while one loads is refused at once;
    /// one needing the same plugin waits for it, at most `policy.load_timeout`. The load
    /// itself is waited for as long.
    fn load_bounded(
        &self,
        plugin: &str,
        bytes: &[u8],
        sha256: &[u8; 32],
        policy: &PlanBytes,
        refuse: &dyn Fn(String) -> CodecError,
    ) -> Result<Arc<dyn UdfPlugin>> {
        let timeout = policy.load_timeout;
        {
            let (loading, ended) = &*self.loading;
            let mut loading = loading.lock();
            if loading.is_some_and(|other| other != *sha256) {
                return Err(refuse("another plan's plugin is loading here; try again when it has".into()).into());
            }
            if ended.wait_while_for(&mut loading, |l| l.is_some(), timeout).timed_out() {
                return Err(refuse(format!("it has been loading here for longer than {timeout:?}")).into());
            }
            // The one loading before may have been this very plugin.
            if let Some(plugin) = self.kept(sha256) {
                return Ok(plugin);
            }
            if self.from_plans.lock().len() >= policy.max_plugins {
                return Err(refuse(full(policy)).into());
            }
            *loading = Some(*sha256);
        }
        // Frees the slot when the load ends, however it ends (a panic included).
        struct Slot(Arc<Loading>);
        impl Drop for Slot {
            fn drop(&mut self) {
                let (loading, ended) = &*self.0;
                *loading.lock() = None;
                ended.notify_all();
            }
        }
        let slot = Slot(self.loading.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (catalog, bytes) = (self.catalog.clone(), bytes.to_vec());
        let spawned = std::thread::Builder::new().name("plugrt-plan-load".into()).spawn(move || {
            // A panic drops the slot as it unwinds; otherwise it is freed before the caller
            // hears of the result, so its next decode finds it free.
            let loaded = catalog.load(&bytes);
            drop(slot);
            let _ = tx.send(loaded);
        });
        if let Err(e) = spawned {
            // The closure, and the slot with it, was dropped.
            return Err(refuse(format!("cannot start a thread to load it: {e}")).into());
        }
        match rx.recv_timeout(timeout) {
            Ok(loaded) => loaded.map_err(|source| CodecError::Load { plugin: plugin.to_owned(), source }.into()),
            Err(RecvTimeoutError::Timeout) => Err(refuse(format!("loading it took longer than {timeout:?}")).into()),
            Err(RecvTimeoutError::Disconnected) => Err(refuse("loading it panicked".into()).into()),
        }
    }

    /// The plugin loaded from a plan earlier with this hash.
    fn kept(&self, sha256: &[u8; 32]) -> Option<Arc<dyn UdfPlugin>> {
        self.from_plans.lock().iter().find(|(hash, _)| hash == sha256).map(|(_, plugin)| plugin.clone())
    }
}

/// Why a plan's plugin is refused when the codec holds as many as `policy` lets it.
fn full(policy: &PlanBytes) -> String {
    format!("this side already holds {} plugins from plans, the most it keeps", policy.max_plugins)
}

/// Whether `plugin` is the one the payload names: its hash, and its name and version too (a
/// plan naming the right bytes under another name or version was altered, and bytes that
/// load as another plugin are not the plan's).
fn check_identity(plugin: &Arc<dyn UdfPlugin>, payload: &Payload<'_>) -> Result<()> {
    let found = plugin.identity();
    if found.name == payload.plugin && found.version == payload.version && found.sha256 == payload.sha256 {
        return Ok(());
    }
    let reason = format!(
        "it names plugin `{}` version {} for sha256 {}, which is `{}` version {} (sha256 {})",
        payload.plugin,
        payload.version,
        hex(&payload.sha256),
        found.name,
        found.version,
        found.sha256_hex()
    );
    Err(CodecError::Malformed { udf: payload.function.to_owned(), reason }.into())
}

/// What an encoding hook does with the plugin codec's answer: done, the wrapped codec's turn
/// (`other`), or a refusal shipped in the UDF's place (see [`CodecError::Refused`]) besides
/// the error.
fn shipped(
    answer: Result<bool>,
    udf: &str,
    buf: &mut Vec<u8>,
    other: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => other(buf),
        Err(e) => {
            refuse(&e, udf, buf);
            Err(e)
        }
    }
}

/// Writes, in place of a UDF's payload, the error that kept it from being encoded.
fn refuse(error: &DataFusionError, udf: &str, buf: &mut Vec<u8>) {
    buf.clear();
    let message = error.to_string();
    let message = &message.as_bytes()[..message.floor_char_boundary(u16::MAX as usize)];
    let function = &udf[..udf.floor_char_boundary(u16::MAX as usize)];
    let payload =
        Payload { kind: Kind::Refused, sha256: [0; 32], plugin: "", version: "", function, bytes: Some(message) };
    payload.write(buf);
}

fn missing(plugin: &Arc<dyn UdfPlugin>, payload: &Payload<'_>) -> DataFusionError {
    let identity = plugin.identity();
    CodecError::NoSuchFunction {
        plugin: identity.name.clone(),
        sha256: identity.sha256_hex(),
        function: payload.function.to_owned(),
        kind: payload.kind.describe(),
    }
    .into()
}

/// [`PluginCodec::logical`]'s codec.
#[derive(Debug)]
struct PluginLogicalCodec {
    plugins: Arc<PluginCodec>,
    inner: Arc<dyn LogicalExtensionCodec>,
}

impl LogicalExtensionCodec for PluginLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: datafusion::arrow::datatypes::SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner.try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.plugins.decode_udf(name, buf)?.map_or_else(|| self.inner.try_decode_udf(name, buf), Ok)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        let answer = self.plugins.encode_udf(node, buf);
        shipped(answer, node.name(), buf, |buf| self.inner.try_encode_udf(node, buf))
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.plugins.decode_udaf(name, buf)?.map_or_else(|| self.inner.try_decode_udaf(name, buf), Ok)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        let answer = self.plugins.encode_udaf(node, buf);
        shipped(answer, node.name(), buf, |buf| self.inner.try_encode_udaf(node, buf))
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }

    fn try_decode_higher_order_function(&self, name: &str, buf: &[u8]) -> Result<Arc<HigherOrderUDF>> {
        self.inner.try_decode_higher_order_function(name, buf)
    }

    fn try_encode_higher_order_function(&self, node: &HigherOrderUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_higher_order_function(node, buf)
    }
}

/// [`PluginCodec::physical`]'s codec.
#[derive(Debug)]
struct PluginPhysicalCodec {
    plugins: Arc<PluginCodec>,
    inner: Arc<dyn PhysicalExtensionCodec>,
}

impl PhysicalExtensionCodec for PluginPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.plugins.decode_udf(name, buf)?.map_or_else(|| self.inner.try_decode_udf(name, buf), Ok)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        let answer = self.plugins.encode_udf(node, buf);
        shipped(answer, node.name(), buf, |buf| self.inner.try_encode_udf(node, buf))
    }

    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        self.inner.try_decode_expr(buf, inputs, ctx)
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> Result<()> {
        self.inner.try_encode_expr(node, buf, ctx)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.plugins.decode_udaf(name, buf)?.map_or_else(|| self.inner.try_decode_udaf(name, buf), Ok)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        let answer = self.plugins.encode_udaf(node, buf);
        shipped(answer, node.name(), buf, |buf| self.inner.try_encode_udaf(node, buf))
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }

    fn try_decode_higher_order_function(&self, name: &str, buf: &[u8]) -> Result<Arc<HigherOrderUDF>> {
        self.inner.try_decode_higher_order_function(name, buf)
    }

    fn try_encode_higher_order_function(&self, node: &HigherOrderUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_higher_order_function(node, buf)
    }
}

#[cfg(test)]
mod tests {
    //! Payloads byte by byte, and whole plans through both codecs, with the crate's Rust
    //! plugin (`fake`): its "bytes" are its version text, so versions differ in hash.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::memory_pool::UnboundedMemoryPool;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::bytes::{
        logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
        physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
    };
    use datafusion_proto::logical_plan::DefaultLogicalExtensionCodec;
    use datafusion_proto::physical_plan::DefaultPhysicalExtensionCodec;

    use super::*;
    use crate::Naming;
    use crate::fake::Fake;

    /// A receiving side: the plugins it has by name, and loads from plans' bytes.
    #[derive(Default)]
    struct Catalog {
        plugins: Vec<Arc<dyn UdfPlugin>>,
        loads: AtomicUsize,
    }

    impl PluginCatalog for Catalog {
        fn plugin(&self, name: &str) -> Option<Arc<dyn UdfPlugin>> {
            self.plugins.iter().find(|p| p.identity().name == name).cloned()
        }
        fn load(&self, bytes: &[u8]) -> Result<Arc<dyn UdfPlugin>, Error> {
            self.loads.fetch_add(1, Ordering::Relaxed);
            let version =
                std::str::from_utf8(bytes).map_err(|e| Error::Load { plugin: "?".into(), message: e.to_string() })?;
            Ok(Arc::new(Fake::new(version)))
        }
    }

    fn codec(catalog: Catalog, self_contained: bool) -> Arc<PluginCodec> {
        let options = CodecOptions { self_contained, ..CodecOptions::default() };
        PluginCodec::new(Arc::new(catalog), Arc::new(UnboundedMemoryPool::default()), options)
    }

    /// A codec of a receiving side that loads plans' plugins within `bounds`.
    fn accepting(catalog: impl PluginCatalog, bounds: PlanBytes) -> Arc<PluginCodec> {
        let options = CodecOptions { plan_bytes: Some(bounds), ..CodecOptions::default() };
        PluginCodec::new(Arc::new(catalog), Arc::new(UnboundedMemoryPool::default()), options)
    }

    fn with(version: &str) -> Catalog {
        Catalog { plugins: vec![Arc::new(Fake::new(version))], ..Catalog::default() }
    }

    /// The sending side: a session with version 1 registered as `fake_twice`, `fake_sum`, ….
    fn sender() -> SessionContext {
        let ctx = SessionContext::new();
        crate::register(&ctx, Arc::new(Fake::new("1")), Naming::Prefixed);
        ctx
    }

    const QUERY: &str = "SELECT column2 AS g, fake_sum(fake_twice(column1)) AS s, fake_cat(column3) AS c \
        FROM (VALUES (1, 'a', 'x'), (2, 'b', 'y'), (3, 'a', 'z'), (NULL, 'b', 'w')) \
        WHERE fake_twice(column1) > 0 OR column1 IS NULL GROUP BY column2 ORDER BY g";

    async fn text(ctx: &SessionContext, plan: LogicalPlan) -> String {
        let batches = ctx.execute_logical_plan(plan).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    /// The error a decode fails with, as text (the plan's errors arrive as text on Ballista).
    fn decode_error(codec: &Arc<PluginCodec>, bytes: &[u8]) -> String {
        let logical = codec.logical(Arc::new(DefaultLogicalExtensionCodec {}));
        let ctx = SessionContext::new();
        logical_plan_from_bytes_with_extension_codec(bytes, &ctx.task_ctx(), logical.as_ref()).unwrap_err().to_string()
    }

    async fn logical_bytes(codec: &Arc<PluginCodec>) -> Vec<u8> {
        let plan = sender().state().create_logical_plan(QUERY).await.unwrap();
        let logical = codec.logical(Arc::new(DefaultLogicalExtensionCodec {}));
        logical_plan_to_bytes_with_extension_codec(&plan, logical.as_ref()).unwrap().to_vec()
    }

    #[tokio::test]
    async fn logical_plans_round_trip_to_a_side_with_the_same_plugin() {
        let local = sender();
        let want = text(&local, local.state().create_logical_plan(QUERY).await.unwrap()).await;
        assert!(want.contains("| a | 8 | x,z |"), "{want}");
        let bytes = logical_bytes(&codec(with("1"), false)).await;

        // The receiving session has no UDF registered: only the codec knows them.
        let receiver = SessionContext::new();
        let codec = codec(with("1"), false);
        let logical = codec.logical(Arc::new(DefaultLogicalExtensionCodec {}));
        let plan =
            logical_plan_from_bytes_with_extension_codec(&bytes, &receiver.task_ctx(), logical.as_ref()).unwrap();
        assert_eq!(text(&receiver, plan).await, want);
    }

    #[tokio::test]
    async fn physical_plans_round_trip_with_scalar_and_aggregate_udfs() {
        let local = sender();
        let state = local.state();
        let logical_plan = state.create_logical_plan(QUERY).await.unwrap();
        let physical_plan = state.create_physical_plan(&logical_plan).await.unwrap();
        let want = datafusion::physical_plan::collect(physical_plan.clone(), local.task_ctx()).await.unwrap();

        let codec = codec(with("1"), false);
        let physical = codec.physical(Arc::new(DefaultPhysicalExtensionCodec {}));
        let bytes = physical_plan_to_bytes_with_extension_codec(physical_plan, physical.as_ref()).unwrap();
        let receiver = SessionContext::new();
        let plan =
            physical_plan_from_bytes_with_extension_codec(&bytes, &receiver.task_ctx(), physical.as_ref()).unwrap();
        let got = datafusion::physical_plan::collect(plan, receiver.task_ctx()).await.unwrap();
        assert_eq!(pretty_format_batches(&got).unwrap().to_string(), pretty_format_batches(&want).unwrap().to_string());
    }

    #[tokio::test]
    async fn another_version_or_no_plugin_on_the_receiving_side_is_refused_naming_it() {
        let bytes = logical_bytes(&codec(with("1"), false)).await;
        let error = decode_error(&codec(with("2"), false), &bytes);
        assert!(error.contains("plugin `fake` here is version 2"), "{error}");
        assert!(error.contains(&hex(&sha256(b"1"))), "{error}");
        let error = decode_error(&codec(Catalog::default(), false), &bytes);
        assert!(error.contains("plugin `fake` (version 1, sha256 "), "{error}");
        assert!(error.contains("is not loaded here"), "{error}");
    }

    #[tokio::test]
    async fn self_contained_plans_load_their_plugin_once_beside_another_version() {
        let bytes = logical_bytes(&codec(with("1"), true)).await;
        let receiver_codec = accepting(with("2"), PlanBytes::default());
        let logical = receiver_codec.logical(Arc::new(DefaultLogicalExtensionCodec {}));
        let receiver = SessionContext::new();
        let plan =
            logical_plan_from_bytes_with_extension_codec(&bytes, &receiver.task_ctx(), logical.as_ref()).unwrap();
        let local = sender();
        assert_eq!(
            text(&receiver, plan).await,
            text(&local, local.state().create_logical_plan(QUERY).await.unwrap()).await
        );
        // Three UDFs, four expressions, one plugin: loaded from the plan's bytes once.
        let again = logical_plan_from_bytes_with_extension_codec(&bytes, &receiver.task_ctx(), logical.as_ref());
        assert!(again.is_ok());
        assert_eq!(receiver_codec.from_plans.lock().len(), 1);
    }

    #[test]
    fn self_contained_encoding_needs_the_bytes() {
        struct Forgetful(Fake);
        impl UdfPlugin for Forgetful {
            fn description(&self) -> Arc<plugrt_contract::Description> {
                self.0.description()
            }
            fn limits(&self) -> plugrt_contract::Limits {
                self.0.limits()
            }
            fn call(
                &self,
                f: &str,
                b: &arrow_array::RecordBatch,
                o: &plugrt_contract::CallOptions,
            ) -> Result<arrow_array::ArrayRef, Error> {
                self.0.call(f, b, o)
            }
            fn aggregate(
                &self,
                f: &str,
                op: plugrt_contract::AggregateOp,
                s: &arrow_array::RecordBatch,
                r: Option<&arrow_array::RecordBatch>,
                o: &plugrt_contract::CallOptions,
            ) -> Result<arrow_array::RecordBatch, Error> {
                self.0.aggregate(f, op, s, r, o)
            }
            fn identity(&self) -> PluginIdentity {
                PluginIdentity { bytes: None, ..self.0.identity() }
            }
        }
        let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
        let udf = crate::udfs(Arc::new(Forgetful(Fake::new("1"))), Naming::Declared, &pool).remove(0);
        let error = codec(Catalog::default(), true).encode_udf(&udf, &mut Vec::new()).unwrap_err().to_string();
        assert!(error.contains("plugin `fake` did not keep its bytes, so `twice`"), "{error}");
        assert!(codec(Catalog::default(), false).encode_udf(&udf, &mut Vec::new()).unwrap());
    }

    /// The payload of `twice` (with the plugin's bytes if `self_contained`).
    fn payload(self_contained: bool) -> (ScalarUDF, Vec<u8>) {
        let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
        let udf = crate::udfs(Arc::new(Fake::new("1.0.7")), Naming::Declared, &pool).remove(0);
        let mut buf = Vec::new();
        assert!(codec(Catalog::default(), self_contained).encode_udf(&udf, &mut buf).unwrap());
        (udf, buf)
    }

    #[test]
    fn tampered_bytes_are_refused_and_never_loaded() {
        let (_, mut buf) = payload(true);
        *buf.last_mut().unwrap() ^= 1; // "1.0.7" -> "1.0.6"
        let codec = codec(Catalog::default(), false);
        let error = codec.decode_udf("twice", &buf).unwrap_err().to_string();
        assert!(error.contains("the plan's bytes for plugin `fake` hash to"), "{error}");
        assert!(error.contains("the plan was altered"), "{error}");
        assert!(codec.from_plans.lock().is_empty());
    }

    /// The payload of `twice` of plugin `fake` of `version`, carrying `bytes` (and their hash).
    fn write_as(version: &str, bytes: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        let sha256 = sha256(bytes);
        Payload { kind: Kind::Scalar, sha256, plugin: "fake", version, function: "twice", bytes: Some(bytes) }
            .write(&mut buf);
        buf
    }

    /// [`write_as`] with the version the fake plugin of these bytes has (its bytes are its
    /// version text).
    fn write(bytes: &[u8]) -> Vec<u8> {
        write_as(std::str::from_utf8(bytes).unwrap_or("1"), bytes)
    }

    #[test]
    fn bytes_that_do_not_load_or_load_as_another_plugin_are_refused_naming_it() {
        let codec = accepting(Catalog::default(), PlanBytes::default());
        let error = codec.decode_udf("twice", &write(b"\xff not wasm")).unwrap_err().to_string();
        assert!(error.contains("the plan's bytes for plugin `fake` did not load"), "{error}");
        // Bytes that load as version 2 while the plan says version 1.
        let error = codec.decode_udf("twice", &write_as("1", b"2")).unwrap_err().to_string();
        assert!(error.contains("names plugin `fake` version 1 for sha256"), "{error}");
        assert!(codec.decode_udf("twice", &write(b"1")).unwrap().is_some());
        let loads = |c: &Arc<PluginCodec>| c.from_plans.lock().len();
        assert_eq!(loads(&codec), 1, "only what loaded as the plan said is kept");
    }

    #[test]
    fn plans_bytes_are_refused_unless_this_side_opts_in() {
        let catalog = Arc::new(with("1"));
        let codec =
            PluginCodec::new(catalog.clone(), Arc::new(UnboundedMemoryPool::default()), CodecOptions::default());
        let error = codec.decode_udf("twice", &write(b"3")).unwrap_err().to_string();
        assert!(error.contains("plugin `fake` (version 3, sha256 "), "{error}");
        assert!(error.contains("this side runs only plugins it has loaded"), "{error}");
        assert_eq!(catalog.loads.load(Ordering::Relaxed), 0, "nothing was compiled");
        // The plugin it has, found by hash, needs no opt-in even when the plan carries bytes.
        assert!(codec.decode_udf("twice", &write(b"1")).unwrap().is_some());
    }

    #[test]
    fn plans_bytes_are_bounded_in_size_and_count() {
        let small = PlanBytes { max_plugin_bytes: 1, ..PlanBytes::default() };
        let error = accepting(Catalog::default(), small).decode_udf("twice", &write(b"33")).unwrap_err().to_string();
        assert!(error.contains("it is 2 bytes, over the 1 this side loads from plans"), "{error}");
        let one = accepting(Catalog::default(), PlanBytes { max_plugins: 1, ..PlanBytes::default() });
        assert!(one.decode_udf("twice", &write(b"3")).unwrap().is_some());
        // The same plugin again is the one kept; another is one too many, and stays refused.
        assert!(one.decode_udf("twice", &write(b"3")).unwrap().is_some());
        for _ in 0..2 {
            let error = one.decode_udf("twice", &write(b"4")).unwrap_err().to_string();
            assert!(error.contains("already holds 1 plugins from plans"), "{error}");
        }
        assert_eq!(one.from_plans.lock().len(), 1);
    }

    /// A catalog whose loads wait until the test opens the gate (a compiler that never ends,
    /// until it does).
    struct Gated {
        gate: Mutex<std::sync::mpsc::Receiver<()>>,
    }

    impl PluginCatalog for Gated {
        fn plugin(&self, _: &str) -> Option<Arc<dyn UdfPlugin>> {
            None
        }
        fn load(&self, bytes: &[u8]) -> Result<Arc<dyn UdfPlugin>, Error> {
            let _ = self.gate.lock().recv();
            Ok(Arc::new(Fake::new(std::str::from_utf8(bytes).unwrap())))
        }
    }

    #[test]
    fn a_plans_plugin_that_loads_too_long_is_refused_and_holds_up_no_other() {
        let (open, gate) = std::sync::mpsc::channel();
        let bounds = PlanBytes { load_timeout: Duration::from_millis(200), ..PlanBytes::default() };
        let codec = accepting(Gated { gate: Mutex::new(gate) }, bounds);
        let error = codec.decode_udf("twice", &write(b"5")).unwrap_err().to_string();
        assert!(error.contains("loading it took longer than 200ms"), "{error}");
        // Still loading: another plugin is refused at once, without starting a second load;
        // the same one waits for it, then is refused too.
        let error = codec.decode_udf("twice", &write(b"6")).unwrap_err().to_string();
        assert!(error.contains("another plan's plugin is loading here"), "{error}");
        let error = codec.decode_udf("twice", &write(b"5")).unwrap_err().to_string();
        assert!(error.contains("it has been loading here for longer than 200ms"), "{error}");
        // Once it ends, plans load again (the first load's result was dropped: not kept).
        open.send(()).unwrap();
        while codec.loading.0.lock().is_some() {
            std::thread::yield_now();
        }
        open.send(()).unwrap();
        assert!(codec.decode_udf("twice", &write(b"6")).unwrap().is_some());
        assert_eq!(codec.from_plans.lock().len(), 1);
    }

    /// A catalog whose loads panic.
    struct Panicking;

    impl PluginCatalog for Panicking {
        fn plugin(&self, _: &str) -> Option<Arc<dyn UdfPlugin>> {
            None
        }
        fn load(&self, _: &[u8]) -> Result<Arc<dyn UdfPlugin>, Error> {
            panic!("a loader bug");
        }
    }

    #[test]
    fn a_load_that_panics_is_refused_and_frees_the_slot() {
        let codec = accepting(Panicking, PlanBytes::default());
        for _ in 0..2 {
            let error = codec.decode_udf("twice", &write(b"7")).unwrap_err().to_string();
            assert!(error.contains("loading it panicked"), "{error}");
        }
        assert!(codec.loading.0.lock().is_none());
    }

    #[test]
    fn every_cut_or_padded_payload_is_malformed_never_a_panic() {
        for self_contained in [false, true] {
            let (_, buf) = payload(self_contained);
            let codec = codec(with("1.0.7"), false);
            assert!(codec.decode_udf("twice", &buf).unwrap().is_some());
            for len in MAGIC.len()..buf.len() {
                let error = codec.decode_udf("twice", &buf[..len]).unwrap_err().to_string();
                assert!(error.contains("the plan's payload for UDF `twice` is malformed"), "{len}: {error}");
            }
            let mut padded = buf.clone();
            padded.push(0);
            let error = codec.decode_udf("twice", &padded).unwrap_err().to_string();
            assert!(error.contains("1 bytes follow its end"), "{error}");
            // Every single-byte change of the head and texts fails or names the same plugin.
            for at in MAGIC.len()..buf.len().min(HEAD + 40) {
                let mut changed = buf.clone();
                changed[at] ^= 0x80;
                if let Ok(Some(udf)) = codec.decode_udf("twice", &changed) {
                    panic!("byte {at} changed and still decoded as {udf:?}");
                }
            }
        }
    }

    #[test]
    fn kinds_and_limits_are_checked_and_foreign_payloads_passed_on() {
        let (_, buf) = payload(false);
        let codec_ = codec(with("1.0.7"), false);
        let error = codec_.decode_udaf("twice", &buf).unwrap_err().to_string();
        assert!(error.contains("describes scalar function `twice` where aggregate was expected"), "{error}");
        assert!(codec_.decode_udf("twice", b"").unwrap().is_none());
        assert!(codec_.decode_udf("twice", b"\x0a\x03abc").unwrap().is_none());

        let small = PluginCodec::new(
            Arc::new(with("1.0.7")),
            Arc::new(UnboundedMemoryPool::default()),
            CodecOptions { max_payload_bytes: buf.len() - 1, ..CodecOptions::default() },
        );
        let over = format!("is {} bytes, over the limit of {}", buf.len(), buf.len() - 1);
        let error = small.decode_udf("twice", &buf).unwrap_err().to_string();
        assert!(error.contains(&format!("UDF `twice` of plugin `fake` {over}")), "{error}");
        let (udf, _) = payload(false);
        let error = small.encode_udf(&udf, &mut Vec::new()).unwrap_err().to_string();
        assert!(error.contains(&over), "{error}");
        let mut untouched = Vec::new();
        assert!(!small.encode_udf(&datafusion::functions::string::upper(), &mut untouched).unwrap());
        assert!(untouched.is_empty());
    }
}
