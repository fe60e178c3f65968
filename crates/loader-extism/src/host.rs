//! The host functions a plugin may import beyond the Extism kernel: only `plugrt_log`
//! (namespace `extism:host/user`), whose messages go to `tracing` under a per-call budget.

use extism::{CurrentPlugin, Function, UserData, Val, ValType};
use plugrt_contract::{GuestLog, LogLevel, cut_message};

/// What a call passes to the host functions (extism's per-call host context).
pub(crate) struct CallContext {
    pub(crate) log: GuestLog,
}

/// `plugrt_log(level: i32, message: i64)`: `message` is the offset of a kernel memory block
/// holding UTF-8 text. Bad levels, offsets or text are dropped, never a trap.
pub(crate) fn log_function() -> Function {
    Function::new("plugrt_log", [ValType::I32, ValType::I64], [], UserData::new(()), log)
}

fn log(plugin: &mut CurrentPlugin, params: &[Val], _results: &mut [Val], _: UserData<()>) -> Result<(), extism::Error> {
    let (Some(Val::I32(level)), Some(offset)) = (params.first(), params.get(1)) else { return Ok(()) };
    let Some(level) = LogLevel::from_number(*level) else { return Ok(()) };
    // Past the call's budget nothing is read; within it, only the part that will be logged is
    // copied out of the instance.
    if !plugin.host_context::<CallContext>().is_ok_and(|context| context.log.admit()) {
        return Ok(());
    }
    let message = match plugin.memory_from_val(offset).map(|h| plugin.memory_str(h).map(|m| cut_message(m).to_owned()))
    {
        Some(Ok(text)) => text,
        _ => return Ok(()),
    };
    if let Ok(context) = plugin.host_context::<CallContext>() {
        context.log.emit(level, &message);
    }
    Ok(())
}
