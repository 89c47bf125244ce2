//! The collector: parse at the edge, enrich in the writer.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;

use crate::clock::Clock;
use crate::drops::{DropReason, DropTally};
use crate::event::Event;
use crate::geo::GeoDb;
use crate::page::Page;
use crate::payload::{self, Hit, Rejection, RequestContext};
use crate::referrer::{self, SpamList};
use crate::session::Sessions;
use crate::sites::Sites;
use crate::user_agent::{Agent, UserAgentParser};
use crate::visitor::Salts;

/// How the collector behaves; the server fills it from its configuration.
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    /// A visit ends after this long without events.
    pub session_timeout: Duration,
    /// How many distinct user agents to remember parsed.
    pub user_agent_cache: u64,
    /// Referrer-spam domains on top of the built-in list.
    pub spam_referrers: Vec<String>,
    /// Pageviews of one page one visit may record; more are dropped as `repeated`, as are
    /// pageviews of more than 500 distinct pages in one visit (0: no limit). What keeps one
    /// visitor from inflating a page's count by reloading it.
    pub repeat_pageview_limit: u32,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        CollectorSettings {
            session_timeout: Duration::minutes(30),
            user_agent_cache: 10_000,
            spam_referrers: Vec::new(),
            repeat_pageview_limit: 20,
        }
    }
}

/// The parts of a hit's events that are the same for every site it names.
#[derive(Clone, Default)]
struct Shared {
    name: String,
    hostname: String,
    path: String,
    referrer: String,
    source: String,
    utm: crate::page::Utm,
    location: crate::geo::Location,
    props: Vec<(String, String)>,
}

/// How many distinct unknown domains get a log line each; after that they are only counted, so
/// junk traffic cannot flood the log.
const UNKNOWN_DOMAINS_LOGGED: usize = 100;

pub struct Collector {
    clock: Arc<dyn Clock>,
    sites: Sites,
    drops: DropTally,
    salts: Salts,
    sessions: Sessions,
    agents: UserAgentParser,
    geo: GeoDb,
    spam: SpamList,
    unknown_domains_logged: Mutex<HashSet<String>>,
}

/// What became of a hit: events to store (one per site it named), and a line worth logging.
#[derive(Debug, Default)]
pub struct Enriched {
    pub events: Vec<Event>,
    /// Set the first time an unregistered domain sends events, so the owner can notice a typo.
    pub unknown_domain: Option<String>,
}

impl Collector {
    pub fn new(settings: CollectorSettings, geo: GeoDb, clock: Arc<dyn Clock>) -> Self {
        Collector {
            salts: Salts::new(clock.clone(), settings.session_timeout),
            sessions: Sessions::new(settings.session_timeout)
                .with_repeat_limit(settings.repeat_pageview_limit),
            agents: UserAgentParser::new(settings.user_agent_cache),
            spam: SpamList::with_extra(&settings.spam_referrers),
            sites: Sites::default(),
            drops: DropTally::default(),
            unknown_domains_logged: Mutex::new(HashSet::new()),
            geo,
            clock,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn sites(&self) -> &Sites {
        &self.sites
    }

    /// Copies of the live visitor-id salts (see [`Salts::copies_for_privacy_drill`]).
    #[cfg(any(test, feature = "test-support"))]
    pub fn salt_copies_for_privacy_drill(&self) -> Vec<[u8; 32]> {
        self.salts.copies_for_privacy_drill()
    }

    pub fn drops(&self) -> &DropTally {
        &self.drops
    }

    pub fn geo(&self) -> &GeoDb {
        &self.geo
    }

    /// Parses an Events API body; a rejection is counted as an invalid drop.
    pub fn parse_event(&self, body: &[u8], context: RequestContext) -> Result<Hit, Rejection> {
        let day = context.received_at.date_naive();
        payload::parse_event(body, context)
            .inspect_err(|_| self.drops.add(day, "", DropReason::Invalid))
    }

    /// Parses a tracking pixel's query; a rejection is counted as an invalid drop.
    pub fn parse_pixel(
        &self,
        query: &str,
        referer_header: Option<&str>,
        context: RequestContext,
    ) -> Result<Hit, Rejection> {
        let day = context.received_at.date_naive();
        payload::parse_pixel(query, referer_header, context)
            .inspect_err(|_| self.drops.add(day, "", DropReason::Invalid))
    }

    /// Turns a hit into one event per registered site it names, counting the rest as drops.
    /// Runs on the writer's thread, off the HTTP path: no response depends on it.
    pub fn enrich(&self, hit: Hit) -> Enriched {
        let mut out = Enriched::default();
        let ctx = &hit.context;
        let day = ctx.received_at.date_naive();
        let page = Page::from_url(&hit.url, hit.hash_mode);
        let agent = if ctx.prefetch {
            Agent::Bot
        } else {
            self.agents.parse(&ctx.user_agent)
        };

        // The sites that keep the hit, with the visitor and visit it belongs to in each.
        let mut kept = Vec::with_capacity(hit.domains.len());
        for domain in &hit.domains {
            let Some(site) = self.sites.get(domain) else {
                self.drops.add(day, "", DropReason::UnknownSite);
                if out.unknown_domain.is_none() {
                    let mut logged = self.unknown_domains_logged.lock();
                    if logged.len() < UNKNOWN_DOMAINS_LOGGED && logged.insert(domain.to_string()) {
                        out.unknown_domain = Some(domain.to_string());
                    }
                }
                continue;
            };
            let site_name = domain.as_str();
            if matches!(agent, Agent::Bot) {
                self.drops.add(day, site_name, DropReason::Bot);
                continue;
            }
            if self.spam.is_spam(hit.referrer.as_deref()) {
                self.drops.add(day, site_name, DropReason::Spam);
                continue;
            }
            let excluded = (site.settings.respect_dnt && ctx.do_not_track)
                || site.excludes_path(&page.path)
                || site.excludes_ip(ctx.client_ip);
            if excluded {
                self.drops.add(day, site_name, DropReason::Excluded);
                continue;
            }

            let ids = self
                .salts
                .ids(site_name, ctx.client_ip, &ctx.user_agent, ctx.received_at);
            let session_id = if hit.engagement.is_some() {
                match self.sessions.continue_session(ids, ctx.received_at) {
                    Some(id) => id,
                    None => {
                        self.drops.add(day, site_name, DropReason::NoVisit);
                        continue;
                    }
                }
            } else if hit.name == "pageview" {
                match self
                    .sessions
                    .session_for_pageview(ids, ctx.received_at, &page.path)
                {
                    Ok(id) => id,
                    Err(_) => {
                        self.drops.add(day, site_name, DropReason::Repeated);
                        continue;
                    }
                }
            } else {
                self.sessions.session_for(ids, ctx.received_at)
            };
            kept.push((domain.clone(), ids.current, session_id));
        }
        // A bot's hit was dropped for every site above: it keeps nothing.
        let Agent::Human(client) = agent else {
            return out;
        };
        if kept.is_empty() {
            return out;
        }

        // What every site's event shares, worked out once; the last event takes the hit's
        // strings instead of copying them (nearly every hit names one site).
        let referral = referrer::classify(hit.referrer.as_deref(), &page.hostname);
        let source = [&page.utm.source, &page.ref_source]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(|s| referrer::source_from_param(s))
            .unwrap_or(referral.source);
        let mut shared = Shared {
            name: hit.name,
            hostname: page.hostname,
            path: page.path,
            referrer: referral.referrer,
            source,
            utm: page.utm,
            location: self.geo.lookup(hit.context.client_ip),
            props: hit.props,
        };
        let last = kept.len() - 1;
        for (i, (site, visitor_id, session_id)) in kept.into_iter().enumerate() {
            let shared = if i == last {
                std::mem::take(&mut shared)
            } else {
                shared.clone()
            };
            out.events.push(Event {
                site,
                ts: hit.context.received_at,
                name: shared.name,
                hostname: shared.hostname,
                path: shared.path,
                visitor_id,
                session_id,
                interactive: hit.interactive,
                referrer: shared.referrer,
                source: shared.source,
                utm: shared.utm,
                click_id: page.click_id,
                location: shared.location,
                client: client.clone(),
                props: shared.props,
                engaged_ms: hit.engagement.map(|e| e.engaged_ms),
                scroll_depth: hit.engagement.map(|e| e.scroll_depth),
            });
        }
        out
    }

    /// Housekeeping, called about once a minute: rotates salts (destroying yesterday's on time)
    /// and forgets ended visits.
    pub fn tick(&self) {
        self.salts.rotate();
        self.sessions.purge_expired(self.clock.now());
    }

    /// Visits in memory now.
    pub fn live_sessions(&self) -> usize {
        self.sessions.len()
    }
}
