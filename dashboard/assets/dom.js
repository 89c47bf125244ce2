// The few DOM helpers every page script shares. Text only ever goes in as textContent and
// attributes through setAttribute: no server string is parsed as HTML.

/// An element with its text and attributes.
export function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}


/// The element with this id.
export const $ = (id) => document.getElementById(id);
