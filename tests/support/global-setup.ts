// Placeholder: replaced by the database set-up (embedded PostgreSQL or DATABASE_URL).
export default async function setup(): Promise<void> {}
