//! Per-story locks: one worker never processes two messages of the same story at once (BRIEF §6).
//!
//! Entries are removed when the last holder or waiter lets go, so the table only holds stories in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

/// Lock table keyed by story id.
#[derive(Debug, Default)]
pub struct StoryLocks {
    table: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a story is processed.
pub struct StoryGuard<'a> {
    locks: &'a StoryLocks,
    id: Uuid,
    entry: Option<Arc<tokio::sync::Mutex<()>>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl StoryLocks {
    /// Wait until no other task holds story `id`, then hold it.
    pub async fn lock(&self, id: Uuid) -> StoryGuard<'_> {
        let entry = {
            let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(table.entry(id).or_default())
        };
        let mut g = StoryGuard {
            locks: self,
            id,
            entry: Some(Arc::clone(&entry)),
            guard: None,
        };
        g.guard = Some(entry.lock_owned().await);
        g
    }

    /// Stories currently held or waited for.
    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no story is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for StoryGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let Some(entry) = self.entry.take() else {
            return;
        };
        let mut table = self.locks.table.lock().unwrap_or_else(|p| p.into_inner());
        // Two references remain when nobody else waits: ours and the table's.
        if Arc::strong_count(&entry) <= 2 {
            table.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_story_is_serialised_other_stories_are_not() {
        let locks = Arc::new(StoryLocks::default());
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let g1 = locks.lock(a).await;
        let _g2 = locks.lock(b).await;
        let l2 = Arc::clone(&locks);
        let waiter = tokio::spawn(async move {
            let _g = l2.lock(a).await;
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!waiter.is_finished());
        drop(g1);
        waiter.await.unwrap();
        assert_eq!(locks.len(), 1);
    }

    #[tokio::test]
    async fn table_is_emptied() {
        let locks = StoryLocks::default();
        {
            let _g = locks.lock(Uuid::from_u128(7)).await;
            assert_eq!(locks.len(), 1);
        }
        assert!(locks.is_empty());
    }
}
