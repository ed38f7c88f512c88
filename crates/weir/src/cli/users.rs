//! `weir users scram set|delete|list`: SCRAM credentials through AlterUserScramCredentials and
//! DescribeUserScramCredentials (like `kafka-configs.sh --entity-type users --alter
//! --add-config 'SCRAM-SHA-256=[password=…]'`). The password is salted and hashed here
//! (PBKDF2, a random 32-byte salt); only the salt, iterations and salted password travel.

use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use rand::RngCore;
use weir_meta::scram::ScramHash;

use super::raw::{call, failed};

/// `weir users ...`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(flatten)]
    bootstrap: super::admin::Bootstrap,
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// SCRAM credentials.
    #[command(subcommand)]
    Scram(ScramCommand),
}

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mechanism {
    #[value(name = "SCRAM-SHA-256")]
    Sha256,
    #[value(name = "SCRAM-SHA-512")]
    Sha512,
}

impl Mechanism {
    fn hash(self) -> ScramHash {
        match self {
            Mechanism::Sha256 => ScramHash::Sha256,
            Mechanism::Sha512 => ScramHash::Sha512,
        }
    }
}

#[derive(Debug, Subcommand)]
enum ScramCommand {
    /// Create or replace a user's credential for one mechanism.
    Set {
        /// User name.
        #[arg(long)]
        user: String,
        /// Password (or the WEIR_USER_PASSWORD environment variable, which keeps it out of
        /// the process list).
        #[arg(long, env = "WEIR_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Mechanism.
        #[arg(long, value_enum, default_value = "SCRAM-SHA-512")]
        mechanism: Mechanism,
        /// PBKDF2 iterations (Kafka accepts 4096..=16384).
        #[arg(long, default_value_t = 4096)]
        iterations: i32,
    },
    /// Delete a user's credential for one mechanism.
    Delete {
        /// User name.
        #[arg(long)]
        user: String,
        /// Mechanism.
        #[arg(long, value_enum, default_value = "SCRAM-SHA-512")]
        mechanism: Mechanism,
    },
    /// List users with their mechanisms and iterations (all users, or those named).
    List {
        /// Only these users.
        #[arg(long = "user")]
        users: Vec<String>,
    },
}

/// Run `weir users`.
pub fn run(args: UsersArgs) -> Result<(), String> {
    let UsersCommand::Scram(cmd) = args.command;
    let bs = &args.bootstrap.server;
    match cmd {
        ScramCommand::Set {
            user,
            password,
            mechanism,
            iterations,
        } => {
            let mut salt = [0u8; 32];
            rand::rng().fill_bytes(&mut salt);
            let iters = u32::try_from(iterations)
                .map_err(|_| format!("--iterations {iterations}: must be positive"))?;
            let salted = mechanism
                .hash()
                .salted_password(password.as_bytes(), &salt, iters);
            let mut up = ScramCredentialUpsertion::default();
            up.name = StrBytes::from_string(user.clone());
            up.mechanism = mechanism.hash().type_id();
            up.iterations = iterations;
            up.salt = salt.to_vec().into();
            up.salted_password = salted.into();
            let mut req = AlterUserScramCredentialsRequest::default();
            req.upsertions = vec![up];
            alter(bs, &req, &format!("set {mechanism:?} credential of {user}"))?;
            println!("SCRAM credential of {user} set");
        }
        ScramCommand::Delete { user, mechanism } => {
            let mut del = ScramCredentialDeletion::default();
            del.name = StrBytes::from_string(user.clone());
            del.mechanism = mechanism.hash().type_id();
            let mut req = AlterUserScramCredentialsRequest::default();
            req.deletions = vec![del];
            alter(
                bs,
                &req,
                &format!("delete {mechanism:?} credential of {user}"),
            )?;
            println!("SCRAM credential of {user} deleted");
        }
        ScramCommand::List { users } => {
            let mut req = DescribeUserScramCredentialsRequest::default();
            req.users = Some(
                users
                    .iter()
                    .map(|u| {
                        let mut n = UserName::default();
                        n.name = StrBytes::from_string(u.clone());
                        n
                    })
                    .collect(),
            );
            let resp: DescribeUserScramCredentialsResponse =
                call(bs, ApiKey::DescribeUserScramCredentials, 0, &req)?;
            if resp.error_code != 0 {
                return Err(failed(
                    "list SCRAM users",
                    resp.error_code,
                    resp.error_message.as_ref(),
                ));
            }
            println!("{:<24} {:<16} ITERATIONS", "USER", "MECHANISM");
            for r in &resp.results {
                if r.error_code != 0 {
                    return Err(failed(
                        &format!("describe {}", r.user),
                        r.error_code,
                        r.error_message.as_ref(),
                    ));
                }
                for c in &r.credential_infos {
                    let mech = weir_meta::scram::mechanism_name(c.mechanism).unwrap_or("?");
                    println!("{:<24} {:<16} {}", r.user.as_str(), mech, c.iterations);
                }
            }
        }
    }
    Ok(())
}

fn alter(bs: &str, req: &AlterUserScramCredentialsRequest, what: &str) -> Result<(), String> {
    let resp: AlterUserScramCredentialsResponse =
        call(bs, ApiKey::AlterUserScramCredentials, 0, req)?;
    for r in &resp.results {
        if r.error_code != 0 {
            return Err(failed(what, r.error_code, r.error_message.as_ref()));
        }
    }
    Ok(())
}
