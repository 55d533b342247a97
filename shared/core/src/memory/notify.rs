//! A notifier that keeps what it was sent, for tests of who gets told what.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::notify::{Notice, Notifier, NotifyError};

#[derive(Debug, Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<Notice>>,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<Notice> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn notify(&self, notice: &Notice) -> Result<(), NotifyError> {
        let mut sent =
            self.sent.lock().map_err(|_| NotifyError { target: "memory".into(), message: "poisoned".into() })?;
        sent.push(notice.clone());
        Ok(())
    }
}
