/** Every built-in metric (one line each); a new metric is one file and one line here. */
import './pointing';
import './energy';
import './localisation';
import './iou';
import './confidence';
import './curves';
import './road';
import './sanity';
