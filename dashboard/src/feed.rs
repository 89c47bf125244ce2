//! An RSS 2.0 feed of a site's most read pages, for "most read" lists on static sites.

use crate::xml;

/// One page in the feed.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub path: &'a str,
    pub pageviews: u64,
    pub visitors: u64,
}

/// The feed for `domain`'s pages, most read first. Links point at `https://DOMAIN/PATH`.
pub fn popular(domain: &str, period: &str, items: &[Item]) -> String {
    let site = xml::text(domain);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
<title>Most read on {site}</title><link>https://{site}/</link>\
<description>The most viewed pages of {site} ({period}), by Footfall</description>",
        period = xml::text(period),
    );
    for item in items {
        let path = xml::text(item.path);
        out.push_str(&format!(
            "<item><title>{path}</title><link>https://{site}{path}</link>\
<guid isPermaLink=\"true\">https://{site}{path}</guid>\
<description>{} views by {} visitors</description></item>",
            crate::number::grouped(item.pageviews),
            crate::number::grouped(item.visitors),
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let items = [
            Item {
                path: "/blog/hello",
                pageviews: 1234,
                visitors: 987,
            },
            Item {
                path: "/a?b=<c>&d",
                pageviews: 3,
                visitors: 3,
            },
        ];
        insta::assert_snapshot!(popular("example.com", "30d", &items));
    }
}
