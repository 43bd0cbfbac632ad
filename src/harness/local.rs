//! Fresh local servers for the commands that need their own rather than a run's (`demo`,
//! `calibrate`): the embedded store and app servers as child processes on 127.0.0.1 ephemeral
//! ports, with fresh credentials and a fresh token secret.

use super::HarnessError;
use super::children::{Server, Spec};
use super::stack::creds_env;
use crate::storage::Credentials;
use std::path::Path;

/// The spec of a fresh local server `name`, logging into `work`.
fn local_spec<'a>(name: &'static str, args: &'a [String], envs: &'a [(&'static str, String)], work: &Path) -> Spec<'a> {
    Spec { name: name.to_owned(), command: name, args, envs, log: work.join(format!("{name}.log")), expendable: false }
}

/// Starts the embedded store (with `store_args`), then each app in `apps` (`broker` or `proxy`,
/// with its extra args) against it on bucket `bucket`, logging into `work`. Returns the servers in that order, the store's
/// credentials and the token secret; on a failure, stops what had started.
///
/// # Errors
/// [`HarnessError::ServerStart`] naming the server that did not start.
pub async fn start(
    work: &Path,
    bucket: &str,
    store_args: &[String],
    apps: &[(&'static str, Vec<String>)],
) -> Result<(Vec<Server>, Credentials, String), HarnessError> {
    let credentials = Credentials {
        access_key: format!("pb-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        secret_key: uuid::Uuid::new_v4().simple().to_string(),
    };
    let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let mut env = creds_env(&credentials);
    env.push(("PRESIGN_BENCH_TOKEN_SECRET", secret.clone()));
    let data = work.join("store").display().to_string();
    let mut args: Vec<String> = ["--listen", "127.0.0.1:0", "--data-dir", &data].map(String::from).to_vec();
    args.extend_from_slice(store_args);
    let mut servers = vec![Server::start(local_spec("storage", &args, &env, work)).await?];
    for (command, extra) in apps {
        let db = work.join(format!("{command}.sqlite3")).display().to_string();
        let mut args: Vec<String> =
            ["--listen", "127.0.0.1:0", "--s3-endpoint", &servers[0].url, "--bucket", bucket, "--db", &db]
                .map(String::from)
                .to_vec();
        args.extend_from_slice(extra);
        match Server::start(local_spec(command, &args, &env, work)).await {
            Ok(server) => servers.push(server),
            Err(e) => {
                futures_util::future::join_all(servers.into_iter().map(Server::stop)).await;
                return Err(e);
            }
        }
    }
    Ok((servers, credentials, secret))
}
