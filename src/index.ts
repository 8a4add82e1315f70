// Public library API of face-llava.
export { VERSION } from './version.js';
