//! Argon2id hashing of passwords and PINs with the server-side pepper, always on the
//! blocking pool (never on executor threads) and bounded so memory stays predictable.

use crate::config::{Argon2Params, Secret};
use crate::error::{ApiError, ApiResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    pepper: Vec<u8>,
    params: Params,
    /// Caps concurrent hashes: each one holds `memory_kib` of RAM.
    permits: Semaphore,
    slots: usize,
    /// Hashes waiting for a permit (the metrics' argon2 queue).
    waiting: AtomicUsize,
    /// A real hash of a random value, verified when a username is unknown so that the
    /// response time does not tell whether the account exists.
    dummy: String,
}

impl Hasher {
    pub fn new(pepper: &Secret, cfg: Argon2Params, max_concurrent: usize) -> Result<Self, String> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let pepper = pepper.expose().as_bytes().to_vec();
        let dummy = hash_blocking(&pepper, &params, "pinpay-dummy-credential")
            .map_err(|e| format!("argon2 self-test failed: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pepper,
                params,
                permits: Semaphore::new(max_concurrent.max(1)),
                slots: max_concurrent.max(1),
                waiting: AtomicUsize::new(0),
                dummy,
            }),
        })
    }

    /// Hashes running now, and hashes waiting for a slot.
    pub fn load(&self) -> (usize, usize) {
        let running = self.inner.slots - self.inner.permits.available_permits();
        (running, self.inner.waiting.load(Ordering::Relaxed))
    }

    /// Waits for one of the hashing slots, counted as waiting meanwhile.
    async fn slot(&self) -> ApiResult<SemaphorePermit<'_>> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.inner.waiting);
        self.inner
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal())
    }

    pub async fn hash(&self, secret: String) -> ApiResult<String> {
        let _permit = self.slot().await?;
        let inner = self.inner.clone();
        actix_web::web::block(move || hash_blocking(&inner.pepper, &inner.params, &secret))
            .await?
            .map_err(|e| ApiError::internal_from("argon2 hash", e))
    }

    /// True when `secret` matches the stored PHC string; `None` verifies against the dummy.
    pub async fn verify(&self, secret: String, phc: Option<String>) -> ApiResult<bool> {
        let _permit = self.slot().await?;
        let inner = self.inner.clone();
        actix_web::web::block(move || {
            let real = phc.is_some();
            let phc = phc.unwrap_or_else(|| inner.dummy.clone());
            let parsed =
                PasswordHash::new(&phc).map_err(|e| ApiError::internal_from("stored hash", e))?;
            let argon = argon(&inner.pepper, inner.params.clone())?;
            // The hash runs first, whether or not the account is real (no short-circuit).
            let matches = argon.verify_password(secret.as_bytes(), &parsed).is_ok();
            Ok(matches && real)
        })
        .await?
    }
}

fn argon(pepper: &[u8], params: Params) -> ApiResult<Argon2<'_>> {
    Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|e| ApiError::internal_from("argon2 setup", e))
}

fn hash_blocking(pepper: &[u8], params: &Params, secret: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let argon = argon(pepper, params.clone()).map_err(|e| e.detail)?;
    argon
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}
