// @ts-check
// Where and how to register the app a side's OAuth sign-in needs, step by
// step, for Google Cloud and Microsoft Entra. Each list carries the flows
// and provider it is for (`data-flows`, `data-provider`), so the form's
// rules show only the one that applies. docs/cloud.md says the same, with
// the providers' pages.

const GOOGLE_BROWSER = `
<ol data-provider="google" data-flows="browser">
  <li>In the Google Cloud console (console.cloud.google.com), create or pick a project.</li>
  <li>APIs &amp; Services → Library: enable the <b>Gmail API</b>.</li>
  <li>OAuth consent screen: <b>Internal</b> for a Workspace domain (External for Gmail accounts, with each mailbox added as a test user); add the scope <code>https://mail.google.com/</code>.</li>
  <li>Credentials → Create credentials → OAuth client ID → type <b>Desktop app</b>. Copy its client ID and client secret here.</li>
  <li>Check the job, then <b>Sign in mailboxes…</b> and sign in as each mailbox.</li>
</ol>`;

const GOOGLE_DEVICE = `
<p data-provider="google" data-flows="device">Google does not allow mail access from sign-in with a code: choose <b>in the browser</b>, or a service account for a Workspace domain.</p>`;

const GOOGLE_SERVICE_ACCOUNT = `
<ol data-provider="google" data-flows="service-account">
  <li>Google Cloud console → IAM &amp; Admin → Service accounts → <b>Create service account</b> (it needs no roles).</li>
  <li>Its Keys tab → Add key → Create new key → <b>JSON</b>; choose that file here.</li>
  <li>Note the service account's <b>client ID</b> (a number, on its Details tab).</li>
  <li>Google Admin console (admin.google.com) → Security → Access and data control → API controls → <b>Manage domain-wide delegation</b> → Add new: that client ID, scope <code>https://mail.google.com/</code>.</li>
  <li>IMAP must be on for the users: Admin console → Apps → Google Workspace → Gmail → End user access.</li>
</ol>`;

const MICROSOFT_PERSON = `
<ol data-provider="microsoft" data-flows="device browser">
  <li>Microsoft Entra admin center (entra.microsoft.com) → App registrations → <b>New registration</b>: accounts in this organization only (or personal Microsoft accounts, for Outlook.com).</li>
  <li>Authentication → Add a platform → <b>Mobile and desktop applications</b>, redirect URI <code>http://localhost</code>; turn on <b>Allow public client flows</b> (for sign-in with a code).</li>
  <li>API permissions → Add → APIs my organization uses → <b>Office 365 Exchange Online</b> → Delegated: <code>IMAP.AccessAsUser.All</code> (and <code>POP.AccessAsUser.All</code>), and <code>offline_access</code>; grant admin consent if users may not consent themselves.</li>
  <li>Copy the Application (client) ID here, and the tenant (its domain or Directory ID).</li>
</ol>`;

const MICROSOFT_APP = `
<ol data-provider="microsoft" data-flows="client-credentials">
  <li>Microsoft Entra admin center → App registrations → <b>New registration</b> (this organization only).</li>
  <li>API permissions → Add → APIs my organization uses → <b>Office 365 Exchange Online</b> → Application permissions: <code>IMAP.AccessAsApp</code> (and <code>POP.AccessAsApp</code>) → <b>Grant admin consent</b>.</li>
  <li>Certificates &amp; secrets → <b>New client secret</b>: copy its value here (it is shown once), with the Application (client) ID and the tenant.</li>
  <li>In Exchange Online PowerShell (<code>Connect-ExchangeOnline</code>): <code>New-ServicePrincipal -AppId &lt;client ID&gt; -ObjectId &lt;the enterprise application's object ID&gt;</code>, then for each mailbox <code>Add-MailboxPermission -Identity jane@contoso.com -User &lt;that object ID&gt; -AccessRights FullAccess</code>.</li>
</ol>`;

/**
 * The "How to set this up" section of one side's OAuth settings.
 * @param {string} pre the side's id prefix (`source`, `dest`)
 * @returns {HTMLDetailsElement}
 */
export function setupSteps(pre) {
  const d = document.createElement('details');
  d.className = 'advanced oauth-setup';
  d.id = `${pre}-oauth-setup`;
  // Constant markup, no user input in it.
  d.innerHTML = `<summary>How to set this up</summary>
<div class="setup-steps">${GOOGLE_BROWSER}${GOOGLE_DEVICE}${GOOGLE_SERVICE_ACCOUNT}${MICROSOFT_PERSON}${MICROSOFT_APP}
<p class="muted" data-flows="token">Tokens come from your own scripts; MailFerry sends each as it is.</p>
<p class="muted">docs/cloud.md has these steps with the providers' own pages.</p></div>`;
  return d;
}
