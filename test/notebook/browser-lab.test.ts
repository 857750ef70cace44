import { frontendTests } from './jupyter-browser';

// Tutorial 03 in a real JupyterLab 4 (the project venv) and Debian's Chromium, run through the UI:
// with jupyterlab-plotly, without it, reloaded, and reopened untrusted (see jupyter-browser.ts).
frontendTests('lab', 'JupyterLab 4');
