//! A value a scenario file may hold but no world can run, and the key
//! path where it stands (the scenario parser turns the path into a line
//! and column).

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index, from 0.
    Index(usize),
}

/// A value serde accepts but the simulator cannot run, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Where the value is, from the document's root.
    pub path: Vec<Seg>,
    /// What is wrong with it.
    pub message: String,
}

impl Invalid {
    /// At the key path `keys`.
    pub fn at(keys: &[&str], message: impl Into<String>) -> Self {
        Invalid {
            path: keys.iter().map(|k| Seg::Key(k.to_string())).collect(),
            message: message.into(),
        }
    }

    /// At key `key` of item `index` of the list at `list`.
    pub fn at_item(list: &[&str], index: usize, key: &str, message: impl Into<String>) -> Self {
        let mut invalid = Invalid::at(list, message);
        invalid.path.push(Seg::Index(index));
        invalid.path.push(Seg::Key(key.to_string()));
        invalid
    }

    /// The same error for item `index` of the list `list` instead of the
    /// table its path begins with (a `[[fallback]]` plan validated as
    /// `[faults]` is).
    pub fn in_item(mut self, list: &str, index: usize) -> Self {
        match self.path.first_mut() {
            Some(first) => *first = Seg::Key(list.to_string()),
            None => self.path.push(Seg::Key(list.to_string())),
        }
        self.path.insert(1, Seg::Index(index));
        self
    }
}
