/** Types for bin/sources.js (plain JavaScript so that the launcher strips no types). */
export declare function newestSourceMtimeMs(root: string): number;
