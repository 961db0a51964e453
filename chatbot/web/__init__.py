"""Web assets served by the API: the demo page (index.html) and the chat widget bundle
(widget.js, built from chatbot/widget by `make`; not committed)."""
