//! STIX patterning language → comparisons the mapping can turn into MISP attributes.
//!
//! A small adapter over the `stix-pattern` crate: the mapping does not need the full AST, only the
//! comparisons (object type, property path, operator, values) and how they are combined. Anything the
//! mapping cannot express as attributes or objects (qualifiers, `FOLLOWEDBY`, nested AND/OR mixes,
//! non-equality operators) is flagged here so the caller can keep the raw pattern instead.
//!
//! Input is untrusted: the pattern length and the number of comparisons are bounded before and during
//! the walk, and the crate itself caps nesting depth ([`stix_pattern::MAX_NESTING`]) and walks iteratively.

use stix_pattern::{
    ComparisonExpression, ComparisonOperand, ComparisonOperator, Literal, ObservationExpression,
    PathStep,
};

/// Longest pattern accepted, in bytes (artifact payloads inlined in patterns can be long).
pub const MAX_PATTERN_LEN: usize = 64 * 1024;
/// Most comparisons accepted in one pattern (counting each `IN` set member).
pub const MAX_COMPARISONS: usize = 256;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    Exists,
}

impl From<ComparisonOperator> for Operator {
    fn from(op: ComparisonOperator) -> Self {
        use ComparisonOperator as C;
        match op {
            C::Equal => Operator::Equal,
            C::NotEqual => Operator::NotEqual,
            C::GreaterThan => Operator::Greater,
            C::GreaterThanOrEqual => Operator::GreaterOrEqual,
            C::LessThan => Operator::Less,
            C::LessThanOrEqual => Operator::LessOrEqual,
            C::In => Operator::In,
            C::Like => Operator::Like,
            C::Matches => Operator::Matches,
            C::IsSubset => Operator::IsSubset,
            C::IsSuperset => Operator::IsSuperset,
            C::Exists => Operator::Exists,
        }
    }
}

/// One property test, e.g. `file:hashes.'SHA-256' = 'ab…'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The STIX object type before the colon (`file`, `ipv4-addr`, …).
    pub object_type: String,
    /// The property path after the colon, rendered as `hashes.SHA-256`, `values[0].name`, `to_refs[*].value`.
    pub path: String,
    pub operator: Operator,
    /// `NOT` preceded the operator.
    pub negated: bool,
    /// The operand(s) as text: one for most operators, the set members for `IN`, none for `EXISTS`.
    pub values: Vec<String>,
}

impl Comparison {
    /// `=` or `IN` without `NOT`: the comparison names concrete values.
    pub fn is_equality(&self) -> bool {
        !self.negated && matches!(self.operator, Operator::Equal | Operator::In)
    }
}

/// How the parts of an expression are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// A single part.
    Single,
    /// All parts joined by `AND`.
    And,
    /// All parts joined by `OR`.
    Or,
    /// Nested `AND`/`OR` (or `FOLLOWEDBY`) combinations.
    Mixed,
}

/// One `[ … ]` observation: its comparisons and how they are joined inside the brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub join: Join,
    pub comparisons: Vec<Comparison>,
}

/// A pattern flattened to its observations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatPattern {
    /// The observations in source order.
    pub observations: Vec<Observation>,
    /// How the observations are joined.
    pub join: Join,
    /// The pattern uses a qualifier (`WITHIN`, `REPEATS`, `START … STOP`) or `FOLLOWEDBY`.
    pub temporal: bool,
}

impl FlatPattern {
    /// All comparisons of all observations, in source order.
    pub fn comparisons(&self) -> impl Iterator<Item = &Comparison> {
        self.observations.iter().flat_map(|o| o.comparisons.iter())
    }
}

/// Why a pattern could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern is {len} bytes long (limit {max})")]
    TooLong { len: usize, max: usize },
    #[error("pattern has more than {max} comparisons")]
    TooManyComparisons { max: usize },
    #[error("invalid STIX pattern: {0}")]
    Syntax(String),
}

/// Parse and flatten a STIX 2.1 pattern.
pub fn parse(pattern: &str) -> Result<FlatPattern, PatternError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(PatternError::TooLong {
            len: pattern.len(),
            max: MAX_PATTERN_LEN,
        });
    }
    let ast = stix_pattern::parse(pattern).map_err(|e| PatternError::Syntax(e.to_string()))?;
    let mut budget = MAX_COMPARISONS;
    let mut temporal = false;
    let mut observations = Vec::new();
    // Observation level: unwrap qualifiers, and flatten one level of AND/OR/FOLLOWEDBY.
    let mut root = &ast.expression;
    while let ObservationExpression::Qualified { expression, .. } = root {
        temporal = true;
        root = expression;
    }
    let join = match root {
        ObservationExpression::Observation { .. } => Join::Single,
        ObservationExpression::And(xs) | ObservationExpression::Or(xs) => {
            if xs
                .iter()
                .all(|x| matches!(x, ObservationExpression::Observation { .. }))
            {
                if matches!(root, ObservationExpression::And(_)) {
                    Join::And
                } else {
                    Join::Or
                }
            } else {
                Join::Mixed
            }
        }
        ObservationExpression::FollowedBy(_) => {
            temporal = true;
            Join::Mixed
        }
        ObservationExpression::Qualified { .. } => Join::Mixed,
    };
    // Walk every observation (iteratively) in source order.
    let mut pending = vec![root];
    while let Some(e) = pending.pop() {
        match e {
            ObservationExpression::Observation { expression, .. } => {
                observations.push(flatten_observation(expression, &mut budget)?);
            }
            ObservationExpression::And(xs)
            | ObservationExpression::Or(xs)
            | ObservationExpression::FollowedBy(xs) => {
                if matches!(e, ObservationExpression::FollowedBy(_)) {
                    temporal = true;
                }
                pending.extend(xs.iter().rev());
            }
            ObservationExpression::Qualified { expression, .. } => {
                temporal = true;
                pending.push(expression);
            }
        }
    }
    Ok(FlatPattern {
        observations,
        join,
        temporal,
    })
}

fn flatten_observation(
    expr: &ComparisonExpression,
    budget: &mut usize,
) -> Result<Observation, PatternError> {
    let join = match expr {
        ComparisonExpression::Test(_) => Join::Single,
        ComparisonExpression::And(xs) | ComparisonExpression::Or(xs) => {
            if xs
                .iter()
                .all(|x| matches!(x, ComparisonExpression::Test(_)))
            {
                if matches!(expr, ComparisonExpression::And(_)) {
                    Join::And
                } else {
                    Join::Or
                }
            } else {
                Join::Mixed
            }
        }
    };
    let mut comparisons = Vec::new();
    let mut pending = vec![expr];
    while let Some(e) = pending.pop() {
        match e {
            ComparisonExpression::Test(c) => {
                let values = operand_values(&c.value, c.operator);
                let cost = values.len().max(1);
                if cost > *budget {
                    return Err(PatternError::TooManyComparisons {
                        max: MAX_COMPARISONS,
                    });
                }
                *budget -= cost;
                comparisons.push(Comparison {
                    object_type: c.path.object_type.clone(),
                    path: render_path(&c.path.steps),
                    operator: c.operator.into(),
                    negated: c.negated,
                    values,
                });
            }
            ComparisonExpression::And(xs) | ComparisonExpression::Or(xs) => {
                pending.extend(xs.iter().rev());
            }
        }
    }
    Ok(Observation { join, comparisons })
}

fn operand_values(operand: &ComparisonOperand, op: ComparisonOperator) -> Vec<String> {
    if op == ComparisonOperator::Exists {
        return Vec::new();
    }
    match operand {
        ComparisonOperand::Literal(l) => vec![literal_text(l)],
        ComparisonOperand::Set(ls) => ls.iter().map(literal_text).collect(),
    }
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::String(s) | Literal::Timestamp(s) | Literal::Binary(s) | Literal::Hex(s) => {
            s.clone()
        }
        Literal::Integer(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Boolean(b) => b.to_string(),
    }
}

/// Render path steps as `a.b[0].c` / `a[*].b`.
fn render_path(steps: &[PathStep]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            PathStep::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathStep::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            PathStep::AnyIndex => out.push_str("[*]"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(p: &str) -> Comparison {
        let f = parse(p).expect("parses");
        assert_eq!(f.observations.len(), 1);
        assert_eq!(f.observations[0].comparisons.len(), 1);
        f.observations[0].comparisons[0].clone()
    }

    #[test]
    fn single_equality() {
        let c = one("[ipv4-addr:value = '198.51.100.1']");
        assert_eq!(c.object_type, "ipv4-addr");
        assert_eq!(c.path, "value");
        assert_eq!(c.operator, Operator::Equal);
        assert!(c.is_equality());
        assert_eq!(c.values, vec!["198.51.100.1"]);
    }

    #[test]
    fn quoted_hash_keys_and_indices() {
        let c = one("[file:hashes.'SHA-256' = 'AB']");
        assert_eq!(c.path, "hashes.SHA-256");
        let c = one("[email-message:to_refs[*].value = 'a@b.c']");
        assert_eq!(c.path, "to_refs[*].value");
        let c = one("[windows-registry-key:values[0].name = 'x']");
        assert_eq!(c.path, "values[0].name");
    }

    #[test]
    fn literals_render_as_text() {
        assert_eq!(one("[autonomous-system:number = 666]").values, vec!["666"]);
        assert_eq!(
            one("[x509-certificate:is_self_signed = false]").values,
            vec!["false"]
        );
        assert_eq!(
            one("[file:created = t'2020-01-01T00:00:00Z']").values,
            vec!["2020-01-01T00:00:00Z"]
        );
        assert_eq!(one("[file:size = 1.5]").values, vec!["1.5"]);
        assert_eq!(one("[a:b = 'it\\'s']").values, vec!["it's"]);
    }

    #[test]
    fn in_sets_and_exists() {
        let c = one("[ipv4-addr:value IN ('1.1.1.1', '2.2.2.2')]");
        assert_eq!(c.operator, Operator::In);
        assert_eq!(c.values.len(), 2);
        assert!(c.is_equality());
        let c = one("[file:name NOT = 'x']");
        assert!(c.negated);
        assert!(!c.is_equality());
        let c = one("[url:value LIKE '%evil%']");
        assert_eq!(c.operator, Operator::Like);
        assert!(!c.is_equality());
        let c = one("[file:name MATCHES '^a.*']");
        assert_eq!(c.operator, Operator::Matches);
    }

    #[test]
    fn joins() {
        let f = parse("[file:name = 'a' AND file:size = 3]").expect("parses");
        assert_eq!(f.join, Join::Single);
        assert_eq!(f.observations[0].join, Join::And);
        let f = parse("[domain-name:value = 'a' OR domain-name:value = 'b']").expect("parses");
        assert_eq!(f.observations[0].join, Join::Or);
        let f = parse("[domain-name:value = 'a'] OR [url:value = 'b'] OR [url:value = 'c']")
            .expect("parses");
        assert_eq!(f.join, Join::Or);
        assert_eq!(f.observations.len(), 3);
        assert_eq!(f.observations[2].comparisons[0].values, vec!["c"]);
        let f = parse("[a:b = '1' AND (a:c = '2' OR a:d = '3')]").expect("parses");
        assert_eq!(f.observations[0].join, Join::Mixed);
        let f = parse("([a:b = '1'] AND [a:c = '2']) OR [a:d = '3']").expect("parses");
        assert_eq!(f.join, Join::Mixed);
        assert!(!f.temporal);
        assert_eq!(f.comparisons().count(), 3);
    }

    #[test]
    fn temporal_patterns_are_flagged() {
        assert!(
            parse("[a:b = '1'] WITHIN 60 SECONDS")
                .expect("parses")
                .temporal
        );
        assert!(
            parse("[a:b = '1'] FOLLOWEDBY [a:c = '2']")
                .expect("parses")
                .temporal
        );
        assert!(
            parse("([a:b = '1'] OR [a:c = '2']) REPEATS 5 TIMES")
                .expect("parses")
                .temporal
        );
    }

    #[test]
    fn malformed_patterns_are_errors() {
        for p in [
            "",
            "[",
            "]",
            "ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value = ]",
            "[ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr value = '1']",
            "[a:b = 'unterminated]",
            "[a:b = '1'] AND",
            "\u{0}\u{ffff}",
        ] {
            assert!(matches!(parse(p), Err(PatternError::Syntax(_))), "{p:?}");
        }
    }

    #[test]
    fn huge_patterns_are_refused() {
        let p = format!("[a:b = '{}']", "x".repeat(MAX_PATTERN_LEN));
        assert!(matches!(parse(&p), Err(PatternError::TooLong { .. })));
        let many = (0..MAX_COMPARISONS + 1)
            .map(|i| format!("[a:b = '{i}']"))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert!(matches!(
            parse(&many),
            Err(PatternError::TooManyComparisons { .. })
        ));
        let set = (0..MAX_COMPARISONS + 1)
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(matches!(
            parse(&format!("[a:b IN ({set})]")),
            Err(PatternError::TooManyComparisons { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}[a:b = '1']{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        let deep = format!("[{}a:b = '1'{}]", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        // Within the crate's nesting cap it parses.
        let ok = format!("{}[a:b = '1']{}", "(".repeat(20), ")".repeat(20));
        assert_eq!(parse(&ok).expect("parses").comparisons().count(), 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn pattern_like_strings_never_panic(s in "[\\[\\]()a-z:.'= ANDORIN0-9*,-]{0,120}") {
            let _ = parse(&s);
        }
    }
}
