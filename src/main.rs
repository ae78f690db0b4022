//! The `custodia` binary: everything lives in the library; see `custodia --help`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match custodia::cli::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
