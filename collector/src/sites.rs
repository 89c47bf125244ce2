//! The registered sites and their owners' rules, shared between the server (which edits them)
//! and the collector (which consults them for every event).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use ipnet::IpNet;
use parking_lot::RwLock;

use crate::domain::SiteDomain;

/// A site as its owner configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSettings {
    pub domain: SiteDomain,
    /// IANA time zone name; reports bucket days in it. Validated by the server.
    pub timezone: String,
    /// Path globs never recorded (`/admin/**`): `*` stays within one path segment, `**` crosses
    /// segments, as in Plausible's page rules.
    pub exclude_paths: Vec<String>,
    /// Client networks never recorded (the owner's own office, say).
    pub exclude_ips: Vec<IpNet>,
    /// Drop events from browsers that send `DNT: 1` or `Sec-GPC: 1`.
    pub respect_dnt: bool,
    /// What the keyless public endpoints (hit counters, badges, charts) may show.
    pub public: PublicCounters,
}

/// A site's public hit counts: off unless the owner turns them on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicCounters {
    pub enabled: bool,
    /// Path globs whose counts are never shown (same rules as `exclude_paths`).
    pub hidden_paths: Vec<String>,
    /// Lists of pages (the most read) leave out pages with fewer visitors than this in the
    /// period, so a page one person reads cannot be watched to follow them.
    pub min_visitors: u32,
}

impl Default for PublicCounters {
    fn default() -> Self {
        PublicCounters {
            enabled: false,
            hidden_paths: Vec::new(),
            min_visitors: 3,
        }
    }
}

impl SiteSettings {
    pub fn new(domain: SiteDomain) -> Self {
        SiteSettings {
            domain,
            timezone: "UTC".into(),
            exclude_paths: Vec::new(),
            exclude_ips: Vec::new(),
            respect_dnt: false,
            public: PublicCounters::default(),
        }
    }
}

/// A path glob that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid path pattern {pattern:?}: {reason}")]
pub struct InvalidPattern {
    pub pattern: String,
    pub reason: String,
}

/// Builds a matcher for path globs with the site rules' semantics.
pub fn compile_globs(patterns: &[String]) -> Result<GlobSet, InvalidPattern> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(glob(pattern)?);
    }
    set.build().map_err(|e| InvalidPattern {
        pattern: patterns.join(", "),
        reason: e.to_string(),
    })
}

fn glob(pattern: &str) -> Result<Glob, InvalidPattern> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| InvalidPattern {
            pattern: pattern.to_owned(),
            reason: e.kind().to_string(),
        })
}

/// A site ready for the collector: its settings with the globs compiled.
#[derive(Debug)]
pub struct Site {
    pub settings: SiteSettings,
    exclude_paths: GlobSet,
    hidden_paths: GlobSet,
}

impl Site {
    pub fn new(settings: SiteSettings) -> Result<Self, InvalidPattern> {
        Ok(Site {
            exclude_paths: compile_globs(&settings.exclude_paths)?,
            hidden_paths: compile_globs(&settings.public.hidden_paths)?,
            settings,
        })
    }

    /// Whether the owner asked not to record this path.
    pub fn excludes_path(&self, path: &str) -> bool {
        self.exclude_paths.is_match(path)
    }

    /// Whether the public endpoints may show this path's counts: the site opted in and the
    /// path is not hidden.
    pub fn shows_counts_of(&self, path: &str) -> bool {
        self.settings.public.enabled && !self.hidden_paths.is_match(path)
    }

    pub fn excludes_ip(&self, ip: IpAddr) -> bool {
        self.settings
            .exclude_ips
            .iter()
            .any(|net| net.contains(&ip))
    }
}

/// The registry of sites. Reads happen per event; writes only when the owner adds or removes a
/// site, so a read-write lock fits.
#[derive(Debug, Default)]
pub struct Sites {
    by_domain: RwLock<HashMap<SiteDomain, Arc<Site>>>,
}

impl Sites {
    pub fn get(&self, domain: &SiteDomain) -> Option<Arc<Site>> {
        self.by_domain.read().get(domain).cloned()
    }

    /// Adds or replaces a site.
    pub fn insert(&self, site: Site) {
        self.by_domain
            .write()
            .insert(site.settings.domain.clone(), Arc::new(site));
    }

    pub fn remove(&self, domain: &SiteDomain) -> bool {
        self.by_domain.write().remove(domain).is_some()
    }

    /// Every site, by domain.
    pub fn all(&self) -> Vec<Arc<Site>> {
        let mut all: Vec<Arc<Site>> = self.by_domain.read().values().cloned().collect();
        all.sort_by(|a, b| a.settings.domain.as_str().cmp(b.settings.domain.as_str()));
        all
    }

    pub fn len(&self) -> usize {
        self.by_domain.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_segment_rules() {
        let mut settings = SiteSettings::new(SiteDomain::parse("e.com").unwrap());
        settings.exclude_paths = vec!["/admin/*".into(), "/drafts/**".into(), "/exact".into()];
        settings.exclude_ips = vec!["10.0.0.0/8".parse().unwrap()];
        let site = Site::new(settings).unwrap();
        assert!(site.excludes_path("/admin/users"));
        assert!(!site.excludes_path("/admin/users/5"));
        assert!(site.excludes_path("/drafts/a/b/c"));
        assert!(site.excludes_path("/exact"));
        assert!(!site.excludes_path("/exact/not"));
        assert!(!site.excludes_path("/blog"));
        assert!(site.excludes_ip("10.1.2.3".parse().unwrap()));
        assert!(!site.excludes_ip("11.1.2.3".parse().unwrap()));
    }

    #[test]
    fn counts_show_only_when_opted_in_and_not_hidden() {
        let mut settings = SiteSettings::new(SiteDomain::parse("e.com").unwrap());
        settings.public.hidden_paths = vec!["/drafts/**".into()];
        let closed = Site::new(settings.clone()).unwrap();
        assert!(!closed.shows_counts_of("/blog"));
        settings.public.enabled = true;
        let open = Site::new(settings).unwrap();
        assert!(open.shows_counts_of("/blog"));
        assert!(!open.shows_counts_of("/drafts/a/b"));
    }

    #[test]
    fn bad_glob_is_a_clear_error() {
        let err = compile_globs(&["/a/[".into()]).unwrap_err();
        assert!(err.to_string().contains("/a/["), "{err}");
    }
}
