//! `boxoffice`: runs the embedded mode by default, or one service with `serve <service>`.

use boxoffice_app::admin;
use boxoffice_app::application::Application;
use boxoffice_app::cli::{Cli, Command};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    boxoffice_platform::telemetry::init_tracing(cli.settings.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::All) {
        Command::All => {
            Application::embedded(&cli.settings)
                .await?
                .run_until(boxoffice_platform::shutdown::signal())
                .await
        }
        Command::Serve { service } => {
            Application::service(service, &cli.settings)
                .await?
                .run_until(boxoffice_platform::shutdown::signal())
                .await
        }
        Command::Migrate { service } => admin::migrate(service, &cli.settings).await,
        Command::Republish { service, since } => {
            admin::republish(service, &since, &cli.settings).await
        }
        Command::Backup { dir } => admin::backup(&dir, &cli.settings).await.map(drop),
        Command::VerifyRoom { log } => admin::verify_room(&log),
    }
}
