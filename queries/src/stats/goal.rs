//! Goals: what a site owner counts as a conversion. A pageview goal is a path pattern (`*` stays
//! within one path segment, `**` crosses segments, as in Plausible's page goals); an event goal
//! is a custom event's name. Goals are shown by Plausible's display names: the event's name, or
//! `Visit ` and the pattern.

use std::fmt;

/// One goal of a site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Goal {
    /// A pageview whose path matches the pattern.
    Page(String),
    /// A custom event of this name.
    Event(String),
}

/// A goal that cannot be defined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGoal {
    #[error("a page goal's pattern must start with '/' (got {0:?})")]
    PageNotAPath(String),
    #[error("a goal needs a name or a path of 1 to 120 characters")]
    Length,
    #[error("an event goal cannot be named \"pageview\" or \"engagement\": use a page goal")]
    ReservedName,
}

impl Goal {
    /// A page goal, checked.
    pub fn page(pattern: &str) -> Result<Goal, InvalidGoal> {
        let pattern = pattern.trim();
        check_length(pattern)?;
        if !pattern.starts_with('/') {
            return Err(InvalidGoal::PageNotAPath(pattern.to_owned()));
        }
        Ok(Goal::Page(pattern.to_owned()))
    }

    /// An event goal, checked.
    pub fn event(name: &str) -> Result<Goal, InvalidGoal> {
        let name = name.trim();
        check_length(name)?;
        if name == "pageview" || name == "engagement" {
            return Err(InvalidGoal::ReservedName);
        }
        Ok(Goal::Event(name.to_owned()))
    }

    /// The name the goal is shown and filtered by.
    pub fn display_name(&self) -> String {
        match self {
            Goal::Page(pattern) => format!("Visit {pattern}"),
            Goal::Event(name) => name.clone(),
        }
    }

    /// A page goal's pattern as an RE2 expression for the whole path.
    pub fn path_regex(pattern: &str) -> String {
        let mut regex = String::with_capacity(pattern.len() + 8);
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    regex.push_str(".*");
                }
                '*' => regex.push_str("[^/]*"),
                '\\' | '.' | '+' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => {
                    regex.push('\\');
                    regex.push(c);
                }
                c => regex.push(c),
            }
        }
        regex
    }
}

fn check_length(text: &str) -> Result<(), InvalidGoal> {
    if text.is_empty() || text.chars().count() > 120 {
        Err(InvalidGoal::Length)
    } else {
        Ok(())
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_plausible() {
        assert_eq!(
            Goal::page("/blog/**").unwrap().display_name(),
            "Visit /blog/**"
        );
        assert_eq!(Goal::event("Signup").unwrap().display_name(), "Signup");
        assert_eq!(
            Goal::page("blog"),
            Err(InvalidGoal::PageNotAPath("blog".into()))
        );
        assert_eq!(Goal::event("pageview"), Err(InvalidGoal::ReservedName));
        assert_eq!(Goal::event(" "), Err(InvalidGoal::Length));
    }

    #[test]
    fn patterns_become_anchored_expressions() {
        assert_eq!(Goal::path_regex("/blog/*"), "/blog/[^/]*");
        assert_eq!(Goal::path_regex("/blog**"), "/blog.*");
        assert_eq!(Goal::path_regex("/a.b(c)"), "/a\\.b\\(c\\)");
    }
}
