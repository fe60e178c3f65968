//! The stand-in for a loader this build was compiled without.
#![allow(dead_code, reason = "unused when every loader's feature is on")]

use plugrt_contract::{Error, LoadOptions};

use super::FlavourLoader;
use crate::plugin::Source;
use crate::{Flavour, Plugin};

/// Refuses every plugin of its flavour, naming the Cargo feature that would load it.
pub(crate) struct Missing(pub(crate) Flavour);

impl FlavourLoader for Missing {
    fn load(&self, _: &[u8], options: LoadOptions, _: Source) -> Result<Plugin, Error> {
        Err(Error::Load {
            plugin: options.label().to_owned(),
            message: format!(
                "is a {}, but this build of plugrt has no loader for it: enable plugrt's `{}` Cargo feature",
                self.0,
                self.0.feature()
            ),
        })
    }
}
