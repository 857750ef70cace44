/**
 * Loads every built-in method, so each registers itself. A new method is one file plus one line
 * here; code that needs the registry filled (figures' labels, explain()) imports this module.
 */
import './gap';
import './cam';
import './gradcam';
import './guided';
import './gradcamplusplus';
import './xgradcam';
import './hirescam';
import './gradcamelementwise';
import './layercam';
import './eigencam';
import './eigengradcam';
import './scorecam';
import './ablationcam';
import './randomcam';
import './fullgrad';
import './smoothgrad';
