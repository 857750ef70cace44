import { frontendTests } from './jupyter-browser';

// Tutorial 03 in a real Notebook 7 (the project venv; JupyterLab's renderers in Notebook's page) and
// Debian's Chromium, run through the UI: with jupyterlab-plotly, without it, reloaded, and reopened
// untrusted (see jupyter-browser.ts).
frontendTests('notebook', 'Notebook 7');
