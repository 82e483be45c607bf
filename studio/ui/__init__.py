"""The page's Gradio side: components grouped by feature, and handlers that take one bundle of
inputs and return {component: value}. The logic they call lives in studio/*.py (no Gradio)."""
