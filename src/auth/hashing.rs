//! Argon2id hashing of passwords and PINs with the server-side pepper, on a small fixed
//! pool of threads (one per core, never the async executor), each of which keeps its
//! argon2 working memory (19 MiB at the OWASP minimum) for reuse: memory stays flat
//! however many logins and approvals arrive, and work beyond the pool queues in order.

use crate::config::{Argon2Params, Secret};
use crate::error::{ApiError, ApiResult};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// One piece of hashing work, run on a pool thread with that thread's memory.
type Job = Box<dyn FnOnce(&Core, &mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    load: Arc<Load>,
}

/// What every pool thread needs to hash.
struct Core {
    pepper: Vec<u8>,
    params: Params,
    /// A real hash of a random value, verified when a username is unknown so that the
    /// response time does not tell whether the account exists.
    dummy: String,
}

/// Jobs queued and running, for the metrics.
#[derive(Default)]
struct Load {
    queued: AtomicUsize,
    running: AtomicUsize,
}

impl Hasher {
    /// Starts `threads` hashing threads (at least one).
    pub fn new(pepper: &Secret, cfg: Argon2Params, threads: usize) -> Result<Self, String> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let mut memory = Vec::new();
        let mut core = Core {
            pepper: pepper.expose().as_bytes().to_vec(),
            params,
            dummy: String::new(),
        };
        core.dummy = core
            .hash(b"pinpay-dummy-credential", &mut memory)
            .map_err(|e| format!("argon2 self-test failed: {e}"))?;
        drop(memory);
        let core = Arc::new(core);
        let threads = threads.max(1);
        let load = Arc::new(Load::default());
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let (core, queue, load) = (core.clone(), queue.clone(), load.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    // Allocated on the first job, then reused for every later one.
                    let mut memory = Vec::new();
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(job) = next else {
                            return; // every Hasher is gone
                        };
                        load.queued.fetch_sub(1, Ordering::Relaxed);
                        load.running.fetch_add(1, Ordering::Relaxed);
                        job(&core, &mut memory);
                        load.running.fetch_sub(1, Ordering::Relaxed);
                    }
                })
                .map_err(|e| format!("cannot start a hashing thread: {e}"))?;
        }
        Ok(Self { jobs, load })
    }

    /// Hashes running now, and hashes waiting for a thread.
    pub fn load(&self) -> (usize, usize) {
        (
            self.load.running.load(Ordering::Relaxed),
            self.load.queued.load(Ordering::Relaxed),
        )
    }

    /// Runs `work` on a pool thread and waits for its answer.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Core, &mut Vec<Block>) -> T + Send + 'static,
    ) -> ApiResult<T> {
        let (tx, rx) = oneshot::channel();
        self.load.queued.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move |core, memory| {
            let _ = tx.send(work(core, memory));
        });
        if self.jobs.send(job).is_err() {
            self.load.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(ApiError::internal_from(
                "argon2",
                "hashing threads are gone",
            ));
        }
        rx.await
            .map_err(|_| ApiError::internal_from("argon2", "a hashing job was dropped"))
    }

    pub async fn hash(&self, secret: String) -> ApiResult<String> {
        self.run(move |core, memory| core.hash(secret.as_bytes(), memory))
            .await?
            .map_err(|e| ApiError::internal_from("argon2 hash", e))
    }

    /// True when `secret` matches the stored PHC string; `None` verifies against the dummy.
    pub async fn verify(&self, secret: String, phc: Option<String>) -> ApiResult<bool> {
        self.run(move |core, memory| {
            let real = phc.is_some();
            let phc = phc.as_deref().unwrap_or(&core.dummy);
            // The hash runs first, whether or not the account is real (no short-circuit).
            let matches = core.verify(secret.as_bytes(), phc, memory)?;
            Ok(matches && real)
        })
        .await?
    }
}

/// Fresh argon2 working memory of `blocks` blocks, asked of the kernel as 2 MiB pages
/// before it is first touched. argon2 reads its blocks at random across the whole 19 MiB:
/// with 4 KiB pages that is some 5000 pages, far more than the TLB holds, and whatever
/// else runs on the core between two hashes evicts the rest. With 2 MiB pages the whole
/// block array takes about ten TLB entries. Where the kernel gives no huge pages (they
/// are off, or it runs out), the memory is the same, on small pages.
fn working_memory(blocks: usize) -> Vec<Block> {
    let mut memory: Vec<Block> = Vec::with_capacity(blocks);
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = memory.as_ptr() as usize;
        let end = start + blocks * std::mem::size_of::<Block>();
        let first = start.div_ceil(PAGE) * PAGE;
        if end > first {
            // SAFETY: the range lies inside the allocation `memory` owns, and MADV_HUGEPAGE
            // only tells the kernel how to back it; contents and mapping stay as they are.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    memory.resize(blocks, Block::default());
    memory
}

impl Core {
    fn argon(&self, params: Params) -> Result<Argon2<'_>, String> {
        Argon2::new_with_secret(&self.pepper, Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|e| e.to_string())
    }

    /// The raw argon2id output of `secret` with `salt` under `params`, computed in
    /// `memory` (grown to the size `params` need, and kept).
    fn raw(
        &self,
        params: &Params,
        secret: &[u8],
        salt: &[u8],
        memory: &mut Vec<Block>,
    ) -> Result<Vec<u8>, String> {
        if memory.len() < params.block_count() {
            *memory = working_memory(params.block_count());
        }
        let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
        self.argon(params.clone())?
            .hash_password_into_with_memory(
                secret,
                salt,
                &mut out,
                &mut memory[..params.block_count()],
            )
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) of `secret` with a new salt.
    fn hash(&self, secret: &[u8], memory: &mut Vec<Block>) -> Result<String, String> {
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        let out = self.raw(&self.params, secret, &salt, memory)?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        let hash = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| e.to_string())?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(hash.to_string())
    }

    /// Whether `secret` matches the stored PHC string, in constant time over the output.
    fn verify(&self, secret: &[u8], phc: &str, memory: &mut Vec<Block>) -> ApiResult<bool> {
        let stored =
            PasswordHash::new(phc).map_err(|e| ApiError::internal_from("stored hash", e))?;
        let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
            return Err(ApiError::internal_from("stored hash", "no salt or hash"));
        };
        let params =
            Params::try_from(&stored).map_err(|e| ApiError::internal_from("stored hash", e))?;
        let mut salt_bytes = [0u8; 64];
        let salt = salt
            .decode_b64(&mut salt_bytes)
            .map_err(|e| ApiError::internal_from("stored hash", e))?;
        let out = self
            .raw(&params, secret, salt, memory)
            .map_err(|e| ApiError::internal_from("argon2 verify", e))?;
        // `Output` compares in constant time.
        Ok(Output::new(&out).is_ok_and(|computed| computed == expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn hasher() -> Hasher {
        Hasher::new(
            &Secret::new("test-pepper-0123456789"),
            Argon2Params::default(),
            2,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_secrets_do_not() {
        let h = hasher();
        let phc = h.hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h
            .verify("correct horse".into(), Some(phc.clone()))
            .await
            .unwrap());
        assert!(!h.verify("wrong horse".into(), Some(phc)).await.unwrap());
        assert!(!h.verify("anything".into(), None).await.unwrap());
        // A thread counts its job done just after sending the answer.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while h.load() != (0, 0) {
            assert!(std::time::Instant::now() < deadline, "{:?}", h.load());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The working memory is asked of the kernel as huge pages (its mapping carries the
    /// `hg` flag of MADV_HUGEPAGE), wherever the kernel has transparent huge pages.
    #[cfg(target_os = "linux")]
    #[test]
    fn working_memory_is_advised_as_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            return; // a kernel without transparent huge pages refuses the advice
        }
        let blocks = Params::new(19 * 1024, 2, 1, None).unwrap().block_count();
        let memory = working_memory(blocks);
        assert_eq!(memory.len(), blocks);
        let middle = memory.as_ptr() as usize + blocks * std::mem::size_of::<Block>() / 2;
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        let mut flags = None;
        for line in smaps.lines() {
            let range = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'));
            if let Some((from, to)) = range {
                if let (Ok(from), Ok(to)) = (
                    usize::from_str_radix(from, 16),
                    usize::from_str_radix(to, 16),
                ) {
                    inside = (from..to).contains(&middle);
                    continue;
                }
            }
            if inside && line.starts_with("VmFlags:") {
                flags = Some(line.to_string());
            }
        }
        let flags = flags.expect("the mapping of the working memory");
        assert!(flags.split_whitespace().any(|f| f == "hg"), "{flags}");
    }

    /// Hashes stored before the pool (made by `PasswordHasher`) still verify, and the pool's
    /// hashes verify with `PasswordVerifier`: the format is the same.
    #[tokio::test]
    async fn hashes_match_the_argon2_crates_own_format() {
        let h = hasher();
        let pepper = b"test-pepper-0123456789";
        let params = Params::new(19 * 1024, 2, 1, None).unwrap();
        let argon =
            Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let old = argon.hash_password(b"123456", &salt).unwrap().to_string();
        assert!(h.verify("123456".into(), Some(old)).await.unwrap());
        let new = h.hash("654321".into()).await.unwrap();
        let parsed = PasswordHash::new(&new).unwrap();
        assert!(argon.verify_password(b"654321", &parsed).is_ok());
        assert!(argon.verify_password(b"654322", &parsed).is_err());
    }
}
