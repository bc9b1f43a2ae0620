/** Types for bin/sources.js (plain JavaScript so that the launcher strips no types). */
export declare const SOURCE_DIRS: string[];
export declare function newestSourceMtimeMs(root: string): number;
