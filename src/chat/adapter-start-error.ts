/** A platform refused to start (bad token, unreachable API): one line for the operator. */
export class AdapterStartError extends Error {}
