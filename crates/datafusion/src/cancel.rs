//! Cancelling a query's plugin calls: a [`QueryCancel`] token in the query's configuration,
//! cancelled when its [`CancellableStream`] is dropped.

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::{DataFusionError, Result};
use datafusion::dataframe::DataFrame;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream};
use futures_core::Stream;
use plugrt_contract::CancelToken;

/// The cancel token of one query, carried in its `ConfigOptions` (prefix `plugrt`); the UDFs
/// hand it to every call they make. [`execute_stream`] puts a fresh one in each query.
///
/// Unlike most configuration, clones share the token: the query's plan is planned with a
/// copy of the session's options, and must still see the cancel. Do not put one in a
/// session's own configuration, or every query of the session would share it (and one
/// cancel would fail them all).
#[derive(Debug, Clone, Default)]
pub struct QueryCancel {
    token: CancelToken,
}

impl QueryCancel {
    /// A not-yet-cancelled token for one query.
    pub fn new() -> QueryCancel {
        QueryCancel::default()
    }

    /// The token (cancel it to interrupt the query's calls).
    pub fn token(&self) -> CancelToken {
        self.token.clone()
    }
}

impl ExtensionOptions for QueryCancel {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, _value: &str) -> Result<()> {
        Err(DataFusionError::Configuration(format!(
            "plugrt.{key}: the query's cancel token is set by plugrt::datafusion::execute_stream, not by SET"
        )))
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        Vec::new()
    }
}

impl ConfigExtension for QueryCancel {
    const PREFIX: &'static str = "plugrt";
}

/// A query's record batches; dropping it cancels the query's [`QueryCancel`] token, which
/// interrupts its plugin calls still running (in partitions DataFusion spawned) and fails the
/// ones it would start.
pub struct CancellableStream {
    inner: SendableRecordBatchStream,
    token: CancelToken,
}

impl CancellableStream {
    /// The query's token, to cancel it while another task reads the stream.
    pub fn cancel_token(&self) -> CancelToken {
        self.token.clone()
    }
}

impl Drop for CancellableStream {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl Stream for CancellableStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl RecordBatchStream for CancellableStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

impl std::fmt::Debug for CancellableStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancellableStream").field("token", &self.token).finish_non_exhaustive()
    }
}

/// Plans and starts `frame` with a fresh [`QueryCancel`] token in its configuration; the
/// returned stream cancels it when dropped. What `DataFrame::execute_stream` does otherwise.
pub async fn execute_stream(frame: DataFrame) -> Result<CancellableStream> {
    let (mut state, plan) = frame.into_parts();
    let cancel = QueryCancel::new();
    let token = cancel.token();
    state.config_mut().options_mut().extensions.insert(cancel);
    // The plan's functions see the options marked at the start of execution: mark them again.
    state.mark_start_execution();
    let inner = DataFrame::new(state, plan).execute_stream().await?;
    Ok(CancellableStream { inner, token })
}

/// Runs `frame` to its end through [`execute_stream`]: dropping the returned future cancels
/// the query's calls. What `DataFrame::collect` does otherwise.
pub async fn collect(frame: DataFrame) -> Result<Vec<RecordBatch>> {
    let stream: SendableRecordBatchStream = Box::pin(execute_stream(frame).await?);
    datafusion::physical_plan::common::collect(stream).await
}
