// The dashboard's home: who is signed in and their sites. Every value from the server is set
// with textContent, never parsed as HTML.
const answer = await fetch("/api/dashboard/me", { headers: { accept: "application/json" } });
if (answer.status === 401) {
  location.assign("/login");
} else {
  const me = await answer.json();
  document.getElementById("owner").textContent = `Signed in as ${me.owner}`;
  const body = document.getElementById("sites");
  for (const site of me.sites) {
    const row = body.insertRow();
    for (const text of [site.domain, site.timezone, site.visitors_today.toLocaleString(), site.public_counters ? "on" : "off"]) {
      row.insertCell().textContent = text;
    }
  }
  document.getElementById("empty").hidden = me.sites.length > 0;
}
