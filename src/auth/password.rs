//! argon2id password hashing on a small pool of dedicated threads.
//!
//! Each hash needs 19 MiB of working memory. Hashed on the blocking pool
//! without a bound, a burst of logins ran dozens of hashes at once and the
//! allocator kept what they had used (5 GB resident after 256 logins, 64 at a
//! time). Here a fixed number of threads — one per core by default — each own
//! one working buffer, reused for every hash, so memory is bounded by
//! `workers × 19 MiB` whatever the load. Hashes wait for a thread in a
//! bounded queue; past it the caller gets [`AppError::Busy`] (503 with
//! `Retry-After`) at once instead of piling up.

use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::domain::user::Password;
use crate::error::AppError;

/// Hashes and verifies passwords on dedicated threads. Cheap to clone; the
/// threads stop when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::SyncSender<Job>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher")
    }
}

enum Job {
    Hash {
        password: Password,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Verify {
        password: String,
        hash: Option<String>,
        reply: oneshot::Sender<bool>,
    },
}

/// Seconds a caller turned away for a full queue is told to wait.
const RETRY_AFTER_SECS: u64 = 1;

impl PasswordHasher {
    /// Starts `workers` hashing threads (0: one per core) behind a queue of
    /// `queue` waiting hashes.
    pub fn start(workers: usize, queue: usize) -> std::io::Result<Self> {
        let workers = match workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let (jobs, pending) = mpsc::sync_channel(queue.max(1));
        let pending = Arc::new(Mutex::new(pending));
        for n in 0..workers {
            let pending = pending.clone();
            std::thread::Builder::new()
                .name(format!("taskstream-hash-{n}"))
                .spawn(move || work(&pending))?;
        }
        Ok(Self { jobs })
    }

    /// A PHC string (`$argon2id$v=19$…`) for the password.
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)
    }

    /// Whether `password` matches the stored hash. With no hash (unknown
    /// user) the same work is done against a fixed hash, so timing does not
    /// tell which e-mail addresses exist.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            hash,
            reply,
        })?;
        answer.await.map_err(AppError::internal)
    }

    fn submit(&self, job: Job) -> Result<(), AppError> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => AppError::Busy {
                retry_after: RETRY_AFTER_SECS,
                message: "too many logins and sign-ups in progress: try again shortly",
            },
            mpsc::TrySendError::Disconnected(_) => {
                AppError::internal("the password hashing threads have stopped")
            }
        })
    }
}

/// One hashing thread: takes jobs until every sender is gone, always with
/// the same working memory.
fn work(pending: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        // Holding the lock only while waiting: one idle thread waits on the
        // queue, the others on the lock.
        let job = match pending.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(Job::Hash { password, reply }) => {
                let _ = reply.send(hash(&mut memory, password.expose().as_bytes()));
            }
            Ok(Job::Verify {
                password,
                hash,
                reply,
            }) => {
                let known = hash.is_some();
                let hash = hash.as_deref().unwrap_or(DUMMY_HASH);
                let ok = verify(&mut memory, password.as_bytes(), hash);
                let _ = reply.send(known && ok);
            }
            Err(mpsc::RecvError) => return,
        }
    }
}

/// The working memory for `params`, grown (never shrunk) as needed. argon2
/// writes every block before it reads it, so a reused buffer needs no
/// clearing.
fn blocks<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::new());
    }
    &mut memory[..needed]
}

fn hash(memory: &mut Vec<Block>, password: &[u8]) -> Result<String, String> {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = Salt::generate();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password, &salt, &mut out, blocks(memory, &params))
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Recomputes the hash with the stored hash's own algorithm, version,
/// parameters and salt, and compares in constant time.
fn verify(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
        return false;
    };
    let version = phc
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let (Ok(version), Ok(params)) = (version, Params::try_from(&phc)) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    if argon2
        .hash_password_into_with_memory(password, salt, &mut out, blocks(memory, &params))
        .is_err()
    {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// argon2id hash of a random string, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
    mDkO3kNwXGGbJxGkqC8T7lqrL6sqW2ChgJvFxqEvVbc";

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

    use super::*;

    #[test]
    fn hashes_verify_here_and_with_the_reference_verifier() {
        let mut memory = Vec::new();
        let phc = hash(&mut memory, b"correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        // Reused memory gives the same answer as fresh memory.
        assert!(verify(&mut memory, b"correct horse", &phc));
        assert!(!verify(&mut memory, b"wrong horse", &phc));
        assert!(verify(&mut Vec::new(), b"correct horse", &phc));
        // The argon2 crate's own verifier agrees with the hashes made here.
        let parsed = PasswordHash::new(&phc).expect("parses");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        // And hashes it makes (other parameters too) verify here.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 3, 1, None).expect("params"),
        );
        let made = argon2::PasswordHasher::hash_password(&other, b"tr0ub4dor")
            .expect("hash")
            .to_string();
        assert!(verify(&mut memory, b"tr0ub4dor", &made));
        assert!(!verify(&mut memory, b"tr0ub4dor", "not a hash"));
        assert!(!verify(&mut memory, b"x", DUMMY_HASH));
    }

    #[actix_rt::test]
    async fn a_full_queue_turns_callers_away_at_once() {
        let hasher = PasswordHasher::start(1, 1).expect("threads");
        let password = || Password::parse("long enough".into()).expect("valid");
        // One hashing, one waiting: the rest are refused without waiting.
        let results = futures_util::future::join_all((0..6).map(|_| hasher.hash(password()))).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(AppError::Busy { .. })))
            .count();
        assert!(busy >= 3, "{busy} of 6 refused");
        assert!(results.iter().any(Result::is_ok));
    }
}
