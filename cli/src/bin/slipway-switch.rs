//! `slipway-switch UID PROGRAM [ARGS]`: how a worker running as root starts an
//! app's instance under the app's own uid (see the local runtime's switch
//! module). Its own binary, so that starting it loads nothing but libc.

fn main() -> std::process::ExitCode {
    slipway_worker::runtime::local::switch::main()
}
