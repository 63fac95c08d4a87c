//! MISP attribute types and categories (from `describeTypes.json`).
