//! Channels: the kind of traffic a visit is (Organic Search, Paid Social, Email, Referral, …),
//! from its source, its campaign tags and its click id. The groups and their order follow Google
//! Analytics 4's default channel grouping, as Plausible does, so numbers compare across tools.
//!
//! The rules live here once; the stats SQL evaluates the same rules (with the same lists, bound
//! as parameters) and the query reference test checks the two agree.

use crate::referrer::{category_for_source, SourceCategory};

/// A channel, in the order the rules try them: the first that matches wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    CrossNetwork,
    PaidSearch,
    PaidSocial,
    PaidVideo,
    Display,
    PaidOther,
    OrganicSocial,
    OrganicVideo,
    OrganicSearch,
    Email,
    Affiliates,
    Audio,
    Sms,
    MobilePush,
    Referral,
    Direct,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::CrossNetwork => "Cross-network",
            Channel::PaidSearch => "Paid Search",
            Channel::PaidSocial => "Paid Social",
            Channel::PaidVideo => "Paid Video",
            Channel::Display => "Display",
            Channel::PaidOther => "Paid Other",
            Channel::OrganicSocial => "Organic Social",
            Channel::OrganicVideo => "Organic Video",
            Channel::OrganicSearch => "Organic Search",
            Channel::Email => "Email",
            Channel::Affiliates => "Affiliates",
            Channel::Audio => "Audio",
            Channel::Sms => "SMS",
            Channel::MobilePush => "Mobile Push Notifications",
            Channel::Referral => "Referral",
            Channel::Direct => "Direct",
        }
    }
}

/// Media of display advertising.
pub const DISPLAY_MEDIA: [&str; 5] = ["display", "banner", "expandable", "interstitial", "cpm"];
/// Media of social traffic.
pub const SOCIAL_MEDIA: [&str; 6] = [
    "social",
    "social-network",
    "social-media",
    "sm",
    "social network",
    "social media",
];
/// Words in a medium or `utm_source` that mean e-mail.
pub const EMAIL_WORDS: [&str; 5] = ["email", "e-mail", "e_mail", "e mail", "newsletter"];
/// Media of referrals.
pub const REFERRAL_MEDIA: [&str; 3] = ["referral", "app", "link"];

/// What a visit's first event says about where it came from. All text as stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub source: &'a str,
    pub utm_medium: &'a str,
    pub utm_source: &'a str,
    pub utm_campaign: &'a str,
    /// The click-id parameter's name (`gclid`, …), empty when none.
    pub click_id: &'a str,
}

/// The channel of a visit.
pub fn classify(origin: Origin<'_>) -> Channel {
    let medium = origin.utm_medium.to_lowercase();
    let utm_source = origin.utm_source.to_lowercase();
    let campaign = origin.utm_campaign.to_lowercase();
    let category = category_for_source(origin.source);
    let paid = is_paid_medium(&medium) || !origin.click_id.is_empty();
    if campaign.contains("cross-network") {
        Channel::CrossNetwork
    } else if paid && category == Some(SourceCategory::Search) {
        Channel::PaidSearch
    } else if paid && category == Some(SourceCategory::Social) {
        Channel::PaidSocial
    } else if paid && category == Some(SourceCategory::Video) {
        Channel::PaidVideo
    } else if DISPLAY_MEDIA.contains(&medium.as_str()) {
        Channel::Display
    } else if paid {
        Channel::PaidOther
    } else if category == Some(SourceCategory::Social) || SOCIAL_MEDIA.contains(&medium.as_str()) {
        Channel::OrganicSocial
    } else if category == Some(SourceCategory::Video) || medium.contains("video") {
        Channel::OrganicVideo
    } else if category == Some(SourceCategory::Search) {
        Channel::OrganicSearch
    } else if category == Some(SourceCategory::Email)
        || EMAIL_WORDS
            .iter()
            .any(|w| medium.contains(w) || utm_source.contains(w))
    {
        Channel::Email
    } else if medium == "affiliate" {
        Channel::Affiliates
    } else if medium == "audio" {
        Channel::Audio
    } else if medium == "sms" || origin.source.to_lowercase() == "sms" {
        Channel::Sms
    } else if medium.ends_with("push")
        || medium.contains("mobile")
        || medium.contains("notification")
    {
        Channel::MobilePush
    } else if REFERRAL_MEDIA.contains(&medium.as_str()) || !origin.source.is_empty() {
        Channel::Referral
    } else {
        Channel::Direct
    }
}

/// Media of paid traffic: anything with "cp" (cpc, cpm, cpv), ppc, retargeting, paid….
pub fn is_paid_medium(medium: &str) -> bool {
    medium.contains("cp")
        || medium == "ppc"
        || medium == "retargeting"
        || medium.starts_with("paid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(source: &str, medium: &str, click_id: &str) -> &'static str {
        classify(Origin {
            source,
            utm_medium: medium,
            click_id,
            ..Origin::default()
        })
        .as_str()
    }

    #[test]
    fn visits_fall_into_the_ga4_groups() {
        assert_eq!(channel("", "", ""), "Direct");
        assert_eq!(channel("Google", "", ""), "Organic Search");
        assert_eq!(channel("Google", "cpc", ""), "Paid Search");
        assert_eq!(channel("Google", "", "gclid"), "Paid Search");
        assert_eq!(channel("Facebook", "", ""), "Organic Social");
        assert_eq!(channel("Facebook", "paid_social", ""), "Paid Social");
        assert_eq!(channel("YouTube", "", ""), "Organic Video");
        assert_eq!(channel("newsletter", "email", ""), "Email");
        assert_eq!(channel("Gmail", "", ""), "Email");
        assert_eq!(channel("partner.example", "banner", ""), "Display");
        assert_eq!(channel("partner.example", "cpm", ""), "Display");
        assert_eq!(channel("partner.example", "ppc", ""), "Paid Other");
        assert_eq!(channel("partner.example", "affiliate", ""), "Affiliates");
        assert_eq!(channel("", "sms", ""), "SMS");
        assert_eq!(channel("", "web-push", ""), "Mobile Push Notifications");
        assert_eq!(channel("blog.example", "", ""), "Referral");
        assert_eq!(channel("", "referral", ""), "Referral");
        assert_eq!(
            classify(Origin {
                source: "Google",
                utm_campaign: "Summer cross-network",
                ..Origin::default()
            })
            .as_str(),
            "Cross-network"
        );
        assert_eq!(
            classify(Origin {
                utm_source: "Weekly-Newsletter",
                ..Origin::default()
            })
            .as_str(),
            "Email"
        );
    }
}
