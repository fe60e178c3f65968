//! `load`, `unload`, `reload` and `call` on the same names from several threads at once: no
//! panic, no deadlock, no leaked lease or permit.

use std::time::Duration;

use plugrt::Error;

use crate::common::{flavours, no_args, probe_named, runtime};

#[test]
fn load_unload_reload_and_call_race_without_harm() {
    let runtime = runtime();
    let names = ["aaaaa", "bbbbb", "ccccc"];
    let flavours = flavours();
    std::thread::scope(|s| {
        for thread in 0..4usize {
            let (runtime, flavours) = (&runtime, &flavours);
            s.spawn(move || {
                for i in 0..60usize {
                    let name = names[(thread + i) % names.len()];
                    let flavour = flavours[(thread + i / 3) % flavours.len()];
                    match (thread + i) % 4 {
                        0 => match runtime.load(&probe_named(flavour, name)) {
                            Ok(_) => {}
                            Err(Error::Load { message, .. }) => {
                                assert!(message.contains("already loaded"), "{message}")
                            }
                            Err(e) => panic!("{e}"),
                        },
                        1 => {
                            runtime.unload(name, Duration::from_millis(500));
                        }
                        2 => {
                            // Another flavour's bytes, or a plugin unloaded meanwhile: a load error.
                            if let Err(e) = runtime.reload(name, &probe_named(flavour, name)) {
                                assert!(matches!(e, Error::Load { .. }), "{e}");
                            }
                        }
                        _ => {
                            if let Some(plugin) = runtime.plugin(name) {
                                match plugin.call("calls", &no_args(1)) {
                                    Ok(out) => assert_eq!(crate::common::calls_seen(&out), 1),
                                    Err(Error::Closed { .. }) => {} // unloaded meanwhile
                                    Err(e) => panic!("{e}"),
                                }
                            }
                        }
                    }
                }
            });
        }
    });
    for name in runtime.plugins() {
        let plugin = runtime.plugin(&name).unwrap();
        assert_eq!(plugin.metrics().status.leased, 0, "{name}: a lease leaked");
        assert!(runtime.unload(&name, Duration::from_secs(1)).unwrap().drained());
    }
    assert_eq!(runtime.budget().live, 0, "every permit came back");
}
