"""The demo page around the `wiro` client: settings, admission and caps, a run's life, what is
kept, and the page's Gradio side (studio/ui/). Gradio is imported only by studio/ui/,
studio/gradio_patches.py and the routes of studio/share_ui.py; `wiro/` never imports it.
"""
