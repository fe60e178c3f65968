//! The manager contract: how a pool makes instances and checks them before reuse.

/// Creates the instances a [`Pool`](crate::Pool) hands out, and optionally checks a used one
/// before it is handed out again.
///
/// A plain closure `Fn() -> Result<T, E>` is a manager too (its `recycle` accepts everything),
/// so `Pool::builder(|| Ok::<_, MyError>(make()))` works.
///
/// The pool calls both methods **without** holding its lock, from the acquiring thread (or from
/// the maintenance worker when pre-warming), so they may take time; they are not cancelled if
/// the caller's acquire deadline passes meanwhile.
pub trait Manager: Send + Sync + 'static {
    /// What the pool hands out.
    type Instance: Send + 'static;
    /// Why creating (or recycling) failed; surfaced as [`PoolError::Create`](crate::PoolError::Create).
    type Error: Send + 'static;

    /// Builds a brand-new instance. Called once per slot; never called while the pool is full.
    fn create(&self) -> Result<Self::Instance, Self::Error>;

    /// Checks (and may reset) an instance that has served a lease before it serves another.
    ///
    /// Only called under [`Reuse::Bounded`](crate::Reuse::Bounded), never for fresh instances.
    /// Returning an error discards the instance (retirement reason
    /// [`Rejected`](crate::RetireReason::Rejected)) and the acquiring caller gets a fresh one in
    /// the same slot instead; the error itself is not reported to the caller. The default
    /// accepts every instance.
    fn recycle(&self, instance: &mut Self::Instance) -> Result<(), Self::Error> {
        let _ = instance;
        Ok(())
    }
}

impl<F, T, E> Manager for F
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Instance = T;
    type Error = E;

    fn create(&self) -> Result<T, E> {
        self()
    }
}

/// Lets a loader's error type be built from a pool's resource-limit failures (acquire timeout,
/// pool exhausted), so loaders can report them as resource limits beside their own
/// (timeout, memory, fuel, output size).
///
/// See [`PoolError::into_resource_limit`](crate::PoolError::into_resource_limit).
pub trait PoolResourceLimit {
    /// Builds the error from a message that names the pool and the limit that was hit.
    fn resource_limit(msg: String) -> Self;
}
