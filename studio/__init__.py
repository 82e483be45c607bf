"""What belongs to the demo page: the backend choice, a run's lifecycle, the reference list.

`app.py` builds the Gradio UI and calls into here; `wiro/` stays free of Gradio.
"""
