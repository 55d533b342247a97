//! The column names of rows at one step of a table's rules.
//!
//! Rows are plain `Vec<Value>`; a rule that drops or renames a column changes only the
//! schema, and a derived column is pushed at the end, so no row is reshuffled until the
//! final projection onto the table's declared columns.

use std::collections::HashMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// Slot names; `None` marks a dropped column whose cells are still in the rows.
    slots: Vec<Option<String>>,
    by_name: HashMap<String, usize>,
}

impl Schema {
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut s = Schema::default();
        for n in names {
            s.push(n.into());
        }
        s
    }

    /// Index of a visible column.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Adds a column at the end (or, if the name exists, hides the old one), returning its slot.
    pub fn push(&mut self, name: String) -> usize {
        if let Some(old) = self.by_name.get(&name).copied() {
            self.slots[old] = None;
        }
        self.slots.push(Some(name.clone()));
        self.by_name.insert(name, self.slots.len() - 1);
        self.slots.len() - 1
    }

    pub fn drop_column(&mut self, name: &str) -> bool {
        match self.by_name.remove(name) {
            Some(i) => {
                self.slots[i] = None;
                true
            }
            None => false,
        }
    }

    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        match self.by_name.remove(from) {
            Some(i) => {
                if let Some(old) = self.by_name.insert(to.to_string(), i) {
                    self.slots[old] = None;
                }
                self.slots[i] = Some(to.to_string());
                true
            }
            None => false,
        }
    }

    /// Number of slots, i.e. the length every row has at this step.
    pub fn width(&self) -> usize {
        self.slots.len()
    }

    /// The visible name of a slot.
    pub fn name_of(&self, slot: usize) -> Option<&str> {
        self.slots.get(slot).and_then(|s| s.as_deref())
    }

    /// Visible names in slot order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_rename_and_push_keep_slots() {
        let mut s = Schema::new(["a", "b", "c"]);
        assert!(s.drop_column("b"));
        assert!(s.rename("c", "see"));
        assert_eq!(s.push("d".into()), 3);
        assert_eq!(s.index("see"), Some(2));
        assert_eq!(s.index("b"), None);
        assert_eq!(s.names().collect::<Vec<_>>(), ["a", "see", "d"]);
        assert_eq!(s.width(), 4);
        // Deriving an existing name replaces it.
        assert_eq!(s.push("a".into()), 4);
        assert_eq!(s.names().collect::<Vec<_>>(), ["see", "d", "a"]);
    }
}
