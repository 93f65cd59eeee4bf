"""The storefront's custom elements (API.md §7): the script that defines them and the demo page."""
