// A representative workload of the AWS SDK for JavaScript v3 against a Chamberlain
// endpoint, run by tests/e2e/test_js_sdk.py. Every call's reply must parse and carry what
// AWS's reply carries; the first failure exits non-zero with a message naming the call.
//
// Environment: CHAMBERLAIN_ENDPOINT (http://127.0.0.1:PORT), CHAMBERLAIN_ACCOUNT,
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (an administrator of that account), and
// optionally CHAMBERLAIN_STS_REGION (the region STS is signed for; default eu-west-1,
// as an SDK configured for that region signs for its regional STS endpoint).

import {
  AddRoleToInstanceProfileCommand,
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateInstanceProfileCommand,
  CreateLoginProfileCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  DeleteAccessKeyCommand,
  DeleteGroupCommand,
  DeleteInstanceProfileCommand,
  DeleteLoginProfileCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DeleteVirtualMFADeviceCommand,
  DetachUserPolicyCommand,
  GenerateCredentialReportCommand,
  GetAccessKeyLastUsedCommand,
  GetAccountPasswordPolicyCommand,
  GetAccountSummaryCommand,
  GetContextKeysForPrincipalPolicyCommand,
  GetCredentialReportCommand,
  GetLoginProfileCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetUserCommand,
  IAMClient,
  ListAttachedUserPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListGroupsForUserCommand,
  ListInstanceProfilesForRoleCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  RemoveUserFromGroupCommand,
  TagRoleCommand,
  TagUserCommand,
  UpdateAccessKeyCommand,
  UpdateAssumeRolePolicyCommand,
  paginateGetAccountAuthorizationDetails,
  paginateGetGroup,
  paginateListAccessKeys,
  paginateListPolicies,
  paginateListPolicyVersions,
  paginateListUsers,
  paginateSimulatePrincipalPolicy,
} from "@aws-sdk/client-iam";
import {
  AssumeRoleCommand,
  GetAccessKeyInfoCommand,
  GetCallerIdentityCommand,
  GetSessionTokenCommand,
  STSClient,
} from "@aws-sdk/client-sts";
import {
  CloudTrailClient,
  LookupEventsCommand,
  paginateLookupEvents,
} from "@aws-sdk/client-cloudtrail";

const endpoint = need("CHAMBERLAIN_ENDPOINT");
const account = need("CHAMBERLAIN_ACCOUNT");
const admin = {
  accessKeyId: need("AWS_ACCESS_KEY_ID"),
  secretAccessKey: need("AWS_SECRET_ACCESS_KEY"),
};
const stsRegion = process.env.CHAMBERLAIN_STS_REGION || "eu-west-1";
// IAM's report times have whole seconds.
const started = new Date(Math.floor(Date.now() / 1000) * 1000);
// Unique per run, even for two runs within one second (a fast server allows it).
const run = `js${started.getTime().toString(36)}${process.pid.toString(36)}`;
const path = `/${run}/`;

function need(name) {
  const value = process.env[name];
  if (!value) fail("environment", `${name} is not set`);
  return value;
}

function fail(call, message) {
  console.error(`FAILED ${call}: ${message}`);
  process.exit(1);
}

function expect(call, condition, message) {
  if (!condition) fail(call, message);
}

function isDate(value) {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

// No retries: a retried request would hide the first reply's failure.
function clients(credentials, region = "us-east-1") {
  const common = { endpoint, credentials, maxAttempts: 1 };
  return {
    iam: new IAMClient({ ...common, region: "us-east-1" }),
    sts: new STSClient({ ...common, region: stsRegion }),
    cloudtrail: new CloudTrailClient({ ...common, region }),
  };
}

async function call(name, fn) {
  try {
    return await fn();
  } catch (error) {
    const status = error?.$metadata?.httpStatusCode;
    fail(name, `${error?.name}: ${error?.message} (HTTP ${status})`);
  }
}

/** A call that must fail with AWS's error `code` and HTTP `status`. */
async function refused(name, code, status, fn) {
  let reply;
  try {
    reply = await fn();
  } catch (error) {
    expect(name, error?.name === code, `expected ${code}, got ${error?.name}: ${error?.message}`);
    expect(name, error?.$metadata?.httpStatusCode === status,
      `expected HTTP ${status}, got ${error?.$metadata?.httpStatusCode}`);
    expect(name, typeof error.message === "string" && error.message.length > 0,
      "the error has no message");
    expect(name, Boolean(error.$metadata.requestId), "the error has no request id");
    return error;
  }
  fail(name, `expected ${code}, got a reply: ${JSON.stringify(reply)}`);
}

async function collect(name, paginator, key) {
  const items = [];
  let pages = 0;
  try {
    for await (const page of paginator) {
      pages += 1;
      expect(name, Array.isArray(page[key]), `page ${pages} has no ${key} list`);
      items.push(...page[key]);
    }
  } catch (error) {
    fail(name, `${error?.name}: ${error?.message} (HTTP ${error?.$metadata?.httpStatusCode})`);
  }
  return { items, pages };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const { iam, sts, cloudtrail } = clients(admin);

  // --- who am I (STS signed for a regional endpoint's region)
  const me = await call("GetCallerIdentity", () => sts.send(new GetCallerIdentityCommand({})));
  expect("GetCallerIdentity", me.Account === account, `Account ${me.Account}`);
  expect("GetCallerIdentity", me.Arn === `arn:aws:iam::${account}:user/admin`, `Arn ${me.Arn}`);

  // --- a client whose clock is an hour slow is refused ("Signature expired"), sets its
  // clock from the reply's Date header, and its next call succeeds
  const slow = new STSClient({
    endpoint, credentials: admin, region: stsRegion, maxAttempts: 1, systemClockOffset: -3600_000,
  });
  const stale = await refused("GetCallerIdentity (clock an hour slow)", "SignatureDoesNotMatch",
    403, () => slow.send(new GetCallerIdentityCommand({})));
  expect("GetCallerIdentity (clock an hour slow)", stale.message.startsWith("Signature expired: "),
    stale.message);
  expect("GetCallerIdentity (clock an hour slow)", Math.abs(slow.config.systemClockOffset) < 60_000,
    `the SDK did not set its clock from the reply: offset ${slow.config.systemClockOffset} ms`);
  await call("GetCallerIdentity (clock corrected)", () =>
    slow.send(new GetCallerIdentityCommand({})),
  );

  // --- users, tags, paginated list
  const users = [`${run}-a`, `${run}-b`, `${run}-c`];
  for (const UserName of users) {
    const made = await call("CreateUser", () =>
      iam.send(new CreateUserCommand({ UserName, Path: path, Tags: [{ Key: "run", Value: run }] })),
    );
    expect("CreateUser", made.User?.UserName === UserName, `UserName ${made.User?.UserName}`);
    expect("CreateUser", isDate(made.User.CreateDate), "CreateDate is not a date");
    expect("CreateUser", made.User.Arn === `arn:aws:iam::${account}:user${path}${UserName}`,
      `Arn ${made.User.Arn}`);
  }
  await call("TagUser", () =>
    iam.send(new TagUserCommand({ UserName: users[0], Tags: [{ Key: "team", Value: "blue" }] })),
  );
  const got = await call("GetUser", () => iam.send(new GetUserCommand({ UserName: users[0] })));
  const tags = Object.fromEntries((got.User?.Tags ?? []).map((t) => [t.Key, t.Value]));
  expect("GetUser", tags.run === run && tags.team === "blue", `Tags ${JSON.stringify(tags)}`);
  await refused("GetUser (no such user)", "NoSuchEntityException", 404, () =>
    iam.send(new GetUserCommand({ UserName: `${run}-nobody` })),
  );
  const listed = await collect(
    "ListUsers (paginator)",
    paginateListUsers({ client: iam, pageSize: 1 }, { PathPrefix: path }),
    "Users",
  );
  expect("ListUsers (paginator)", listed.pages === 3, `${listed.pages} pages, expected 3`);
  expect("ListUsers (paginator)",
    JSON.stringify(listed.items.map((u) => u.UserName).sort()) === JSON.stringify(users),
    `users ${listed.items.map((u) => u.UserName)}`);

  // --- groups
  const group = `${run}-g`;
  await call("CreateGroup", () => iam.send(new CreateGroupCommand({ GroupName: group, Path: path })));
  for (const UserName of users) {
    await call("AddUserToGroup", () =>
      iam.send(new AddUserToGroupCommand({ GroupName: group, UserName })),
    );
  }
  const members = await collect(
    "GetGroup (paginator)",
    paginateGetGroup({ client: iam, pageSize: 2 }, { GroupName: group }),
    "Users",
  );
  expect("GetGroup (paginator)", members.items.length === 3 && members.pages === 2,
    `${members.items.length} members in ${members.pages} pages`);
  const groupsOf = await call("ListGroupsForUser", () =>
    iam.send(new ListGroupsForUserCommand({ UserName: users[0] })),
  );
  expect("ListGroupsForUser", groupsOf.Groups?.[0]?.GroupName === group,
    `Groups ${JSON.stringify(groupsOf.Groups)}`);

  // --- managed policy and its versions
  const document = (actions) =>
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: actions, Resource: "*" }],
    });
  const policy = await call("CreatePolicy", () =>
    iam.send(new CreatePolicyCommand({
      PolicyName: `${run}-p`, Path: path, PolicyDocument: document(["iam:ListUsers"]),
      Description: "JS SDK workload",
    })),
  );
  const policyArn = policy.Policy?.Arn;
  expect("CreatePolicy", policyArn === `arn:aws:iam::${account}:policy${path}${run}-p`,
    `Arn ${policyArn}`);
  expect("CreatePolicy", policy.Policy.DefaultVersionId === "v1", "DefaultVersionId");
  expect("CreatePolicy", policy.Policy.IsAttachable === true, "IsAttachable");
  const v2 = await call("CreatePolicyVersion", () =>
    iam.send(new CreatePolicyVersionCommand({
      PolicyArn: policyArn, PolicyDocument: document(["iam:ListUsers", "iam:GetUser"]),
      SetAsDefault: true,
    })),
  );
  expect("CreatePolicyVersion", v2.PolicyVersion?.VersionId === "v2"
    && v2.PolicyVersion.IsDefaultVersion === true, JSON.stringify(v2.PolicyVersion));
  const versions = await collect(
    "ListPolicyVersions (paginator)",
    paginateListPolicyVersions({ client: iam, pageSize: 1 }, { PolicyArn: policyArn }),
    "Versions",
  );
  expect("ListPolicyVersions (paginator)", versions.items.length === 2 && versions.pages === 2,
    `${versions.items.length} versions in ${versions.pages} pages`);
  const fetched = await call("GetPolicyVersion", () =>
    iam.send(new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: "v2" })),
  );
  const text = decodeURIComponent(fetched.PolicyVersion?.Document ?? "");
  expect("GetPolicyVersion", JSON.parse(text).Statement[0].Action.includes("iam:GetUser"),
    `Document ${text}`);
  await call("DeletePolicyVersion", () =>
    iam.send(new DeletePolicyVersionCommand({ PolicyArn: policyArn, VersionId: "v1" })),
  );
  await call("AttachUserPolicy", () =>
    iam.send(new AttachUserPolicyCommand({ UserName: users[0], PolicyArn: policyArn })),
  );
  const attached = await call("ListAttachedUserPolicies", () =>
    iam.send(new ListAttachedUserPoliciesCommand({ UserName: users[0] })),
  );
  expect("ListAttachedUserPolicies", attached.AttachedPolicies?.[0]?.PolicyArn === policyArn,
    JSON.stringify(attached.AttachedPolicies));

  // --- access keys: the new user's key signs its own calls
  await call("PutUserPolicy", () =>
    iam.send(new PutUserPolicyCommand({
      UserName: users[0], PolicyName: "assume-and-sessions",
      PolicyDocument: document(["sts:AssumeRole", "sts:TagSession", "sts:GetSessionToken"]),
    })),
  );
  const key = await call("CreateAccessKey", () =>
    iam.send(new CreateAccessKeyCommand({ UserName: users[0] })),
  );
  const userKey = {
    accessKeyId: key.AccessKey?.AccessKeyId,
    secretAccessKey: key.AccessKey?.SecretAccessKey,
  };
  expect("CreateAccessKey", /^AKIA[A-Z0-9]{16}$/.test(userKey.accessKeyId ?? ""),
    `AccessKeyId ${userKey.accessKeyId}`);
  expect("CreateAccessKey", key.AccessKey.Status === "Active" && isDate(key.AccessKey.CreateDate),
    JSON.stringify(key.AccessKey));
  const asUser = clients(userKey);
  const self = await call("GetCallerIdentity (user's key)", () =>
    asUser.sts.send(new GetCallerIdentityCommand({})),
  );
  expect("GetCallerIdentity (user's key)", self.Arn === `arn:aws:iam::${account}:user${path}${users[0]}`,
    `Arn ${self.Arn}`);
  const lastUsed = await call("GetAccessKeyLastUsed", () =>
    iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: userKey.accessKeyId })),
  );
  expect("GetAccessKeyLastUsed", lastUsed.AccessKeyLastUsed?.ServiceName === "sts"
    && lastUsed.AccessKeyLastUsed.Region === stsRegion
    && isDate(lastUsed.AccessKeyLastUsed.LastUsedDate),
    JSON.stringify(lastUsed.AccessKeyLastUsed));
  await call("CreateAccessKey (second)", () =>
    iam.send(new CreateAccessKeyCommand({ UserName: users[0] })),
  );
  const keys = await collect(
    "ListAccessKeys (paginator)",
    paginateListAccessKeys({ client: iam, pageSize: 1 }, { UserName: users[0] }),
    "AccessKeyMetadata",
  );
  expect("ListAccessKeys (paginator)", keys.items.length === 2, `${keys.items.length} keys`);

  // --- GetSessionToken, then a call with the session's credentials
  const session = await call("GetSessionToken", () =>
    asUser.sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 })),
  );
  const sessionCreds = session.Credentials;
  expect("GetSessionToken", /^ASIA/.test(sessionCreds?.AccessKeyId ?? "")
    && Boolean(sessionCreds.SessionToken) && isDate(sessionCreds.Expiration),
    JSON.stringify(sessionCreds));
  const asSession = clients({
    accessKeyId: sessionCreds.AccessKeyId,
    secretAccessKey: sessionCreds.SecretAccessKey,
    sessionToken: sessionCreds.SessionToken,
  });
  const sessionSelf = await call("GetCallerIdentity (session token)", () =>
    asSession.sts.send(new GetCallerIdentityCommand({})),
  );
  expect("GetCallerIdentity (session token)", sessionSelf.Arn === self.Arn,
    `Arn ${sessionSelf.Arn}`);

  // --- a role, AssumeRole, then a call with the temporary credentials
  const role = `${run}-r`;
  const trust = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${account}:root` },
      Action: ["sts:AssumeRole", "sts:TagSession"],
    }],
  });
  // Text that XML and form encoding must carry exactly: CR LF tab, markup characters,
  // quotes, Latin-1, and spaces at both ends (Description allows all of these).
  const description = " a\r\nb\tc & <d> \"e\" 'f' ~!*() é ÿ ";
  const made = await call("CreateRole", () =>
    iam.send(new CreateRoleCommand({
      RoleName: role, Path: path, AssumeRolePolicyDocument: trust, Description: description,
      Tags: [{ Key: "note", Value: "été 日本 +=.:/@_-" }],
    })),
  );
  expect("CreateRole", made.Role?.Description === description,
    `Description ${JSON.stringify(made.Role?.Description)}`);
  expect("CreateRole", made.Role?.Arn === `arn:aws:iam::${account}:role${path}${role}`,
    `Arn ${made.Role?.Arn}`);
  await call("PutRolePolicy", () =>
    iam.send(new PutRolePolicyCommand({
      RoleName: role, PolicyName: "read", PolicyDocument: document(["iam:GetRole"]),
    })),
  );

  await call("TagRole", () =>
    iam.send(new TagRoleCommand({ RoleName: role, Tags: [{ Key: "tier", Value: "gold" }] })),
  );
  const roleTags = await call("ListRoleTags", () =>
    iam.send(new ListRoleTagsCommand({ RoleName: role })),
  );
  const tagMap = Object.fromEntries((roleTags.Tags ?? []).map((t) => [t.Key, t.Value]));
  expect("ListRoleTags", roleTags.IsTruncated === false && tagMap.tier === "gold"
    && tagMap.note === "été 日本 +=.:/@_-", JSON.stringify(roleTags));
  const fetchedRole = await call("GetRole", () => iam.send(new GetRoleCommand({ RoleName: role })));
  expect("GetRole", fetchedRole.Role?.Description === description,
    `Description ${JSON.stringify(fetchedRole.Role?.Description)}`);
  await call("UpdateAssumeRolePolicy", () =>
    iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: trust })),
  );
  const profile = `${run}-ip`;
  await call("CreateInstanceProfile", () =>
    iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: profile, Path: path })),
  );
  await call("AddRoleToInstanceProfile", () =>
    iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: role })),
  );
  const profiles = await call("ListInstanceProfilesForRole", () =>
    iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: role })),
  );
  expect("ListInstanceProfilesForRole",
    profiles.InstanceProfiles?.[0]?.Roles?.[0]?.RoleName === role,
    JSON.stringify(profiles.InstanceProfiles));

  const assumed = await call("AssumeRole", () =>
    asUser.sts.send(new AssumeRoleCommand({
      RoleArn: made.Role.Arn, RoleSessionName: "js-session", DurationSeconds: 900,
      Tags: [{ Key: "project", Value: "chamberlain" }],
    })),
  );
  expect("AssumeRole", assumed.AssumedRoleUser?.Arn
    === `arn:aws:sts::${account}:assumed-role/${role}/js-session`,
    `AssumedRoleUser ${JSON.stringify(assumed.AssumedRoleUser)}`);
  expect("AssumeRole", typeof assumed.PackedPolicySize === "number", "PackedPolicySize");
  const asRole = clients({
    accessKeyId: assumed.Credentials?.AccessKeyId,
    secretAccessKey: assumed.Credentials?.SecretAccessKey,
    sessionToken: assumed.Credentials?.SessionToken,
  });
  const roleSelf = await call("GetCallerIdentity (assumed role)", () =>
    asRole.sts.send(new GetCallerIdentityCommand({})),
  );
  expect("GetCallerIdentity (assumed role)", roleSelf.Arn === assumed.AssumedRoleUser.Arn,
    `Arn ${roleSelf.Arn}`);
  const roleRead = await call("GetRole (assumed role)", () =>
    asRole.iam.send(new GetRoleCommand({ RoleName: role })),
  );
  expect("GetRole (assumed role)", roleRead.Role?.RoleName === role
    && JSON.parse(decodeURIComponent(roleRead.Role.AssumeRolePolicyDocument)).Statement.length === 1,
    JSON.stringify(roleRead.Role));
  await refused("GetUser (assumed role, not allowed)", "AccessDenied", 403, () =>
    asRole.iam.send(new GetUserCommand({ UserName: users[0] })),
  );
  const deniedLookup = await refused("LookupEvents (assumed role, not allowed)",
    "AccessDeniedException", 400, () => asRole.cloudtrail.send(new LookupEventsCommand({})));
  expect("LookupEvents (assumed role, not allowed)",
    deniedLookup.message.includes("is not authorized to perform: cloudtrail:LookupEvents"),
    deniedLookup.message);


  // --- more shapes: maps, blobs, booleans, nested lists, simulation
  const summary = await call("GetAccountSummary", () => iam.send(new GetAccountSummaryCommand({})));
  expect("GetAccountSummary", Number.isInteger(summary.SummaryMap?.Users)
    && summary.SummaryMap.Users >= 4 && Number.isInteger(summary.SummaryMap.UsersQuota),
    JSON.stringify(summary.SummaryMap));
  await refused("GetAccountPasswordPolicy (none set)", "NoSuchEntityException", 404, () =>
    iam.send(new GetAccountPasswordPolicyCommand({})),
  );
  const local = await collect(
    "ListPolicies (paginator)",
    paginateListPolicies({ client: iam, pageSize: 1 }, { Scope: "Local", PathPrefix: path }),
    "Policies",
  );
  expect("ListPolicies (paginator)", local.items.length === 1
    && local.items[0].AttachmentCount === 1 && isDate(local.items[0].UpdateDate),
    JSON.stringify(local.items));
  const entities = await call("ListEntitiesForPolicy", () =>
    iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: policyArn })),
  );
  expect("ListEntitiesForPolicy", entities.PolicyUsers?.[0]?.UserName === users[0]
    && Array.isArray(entities.PolicyGroups) && Array.isArray(entities.PolicyRoles),
    JSON.stringify(entities));
  const details = await collect(
    "GetAccountAuthorizationDetails (paginator)",
    paginateGetAccountAuthorizationDetails({ client: iam, pageSize: 2 }, { Filter: ["User"] }),
    "UserDetailList",
  );
  const detail = details.items.find((u) => u.UserName === users[0]);
  expect("GetAccountAuthorizationDetails (paginator)", detail !== undefined
    && detail.GroupList?.includes(group)
    && detail.AttachedManagedPolicies?.[0]?.PolicyArn === policyArn
    && detail.UserPolicyList?.[0]?.PolicyName === "assume-and-sessions",
    JSON.stringify(detail));
  const simulated = await collect(
    "SimulatePrincipalPolicy (paginator)",
    paginateSimulatePrincipalPolicy({ client: iam, pageSize: 1 }, {
      PolicySourceArn: `arn:aws:iam::${account}:user${path}${users[0]}`,
      ActionNames: ["iam:ListUsers", "iam:DeleteUser"],
    }),
    "EvaluationResults",
  );
  const decisions = Object.fromEntries(
    simulated.items.map((r) => [r.EvalActionName, r.EvalDecision]),
  );
  expect("SimulatePrincipalPolicy (paginator)", decisions["iam:ListUsers"] === "allowed"
    && decisions["iam:DeleteUser"] === "implicitDeny" && simulated.pages === 2,
    `${JSON.stringify(decisions)} in ${simulated.pages} pages`);
  const contextKeys = await call("GetContextKeysForPrincipalPolicy", () =>
    iam.send(new GetContextKeysForPrincipalPolicyCommand({
      PolicySourceArn: `arn:aws:iam::${account}:user${path}${users[0]}`,
    })),
  );
  expect("GetContextKeysForPrincipalPolicy", Array.isArray(contextKeys.ContextKeyNames),
    JSON.stringify(contextKeys));
  const mfa = await call("CreateVirtualMFADevice", () =>
    iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: `${run}-mfa`, Path: path })),
  );
  const seed = new TextDecoder().decode(mfa.VirtualMFADevice?.Base32StringSeed);
  const png = mfa.VirtualMFADevice?.QRCodePNG;
  expect("CreateVirtualMFADevice", /^[A-Z2-7]+=*$/.test(seed) && seed.length >= 32,
    `Base32StringSeed ${seed}`);
  expect("CreateVirtualMFADevice", png instanceof Uint8Array && png[1] === 0x50 && png[2] === 0x4e,
    "QRCodePNG is not a PNG");
  await call("CreateLoginProfile", () =>
    iam.send(new CreateLoginProfileCommand({
      UserName: users[1], Password: "Js-Sdk-Workload-1!", PasswordResetRequired: true,
    })),
  );
  const login = await call("GetLoginProfile", () =>
    iam.send(new GetLoginProfileCommand({ UserName: users[1] })),
  );
  expect("GetLoginProfile", login.LoginProfile?.PasswordResetRequired === true
    && isDate(login.LoginProfile.CreateDate), JSON.stringify(login.LoginProfile));
  const keyInfo = await call("GetAccessKeyInfo", () =>
    sts.send(new GetAccessKeyInfoCommand({ AccessKeyId: userKey.accessKeyId })),
  );
  expect("GetAccessKeyInfo", keyInfo.Account === account, `Account ${keyInfo.Account}`);

  // --- credential report
  let state;
  for (let attempt = 0; attempt < 50 && state !== "COMPLETE"; attempt += 1) {
    const generated = await call("GenerateCredentialReport", () =>
      iam.send(new GenerateCredentialReportCommand({})),
    );
    state = generated.State;
    if (state !== "COMPLETE") await sleep(200);
  }
  expect("GenerateCredentialReport", state === "COMPLETE", `State ${state}`);
  const report = await call("GetCredentialReport", () =>
    iam.send(new GetCredentialReportCommand({})),
  );
  expect("GetCredentialReport", report.ReportFormat === "text/csv" && isDate(report.GeneratedTime),
    `ReportFormat ${report.ReportFormat}`);
  const csv = new TextDecoder().decode(report.Content);
  const [header, ...rows] = csv.trim().split("\n");
  expect("GetCredentialReport", header.startsWith("user,arn,user_creation_time,"),
    `header ${header}`);
  // IAM hands back a report up to four hours old as it is: one made before this run
  // started cannot list this run's users, but lists the administrator.
  const fresh = report.GeneratedTime > started; // whole seconds: same second is unsure
  const owner = fresh ? users[0] : "admin";
  const row = rows.find((line) => line.startsWith(`${owner},`));
  expect("GetCredentialReport", row !== undefined, `no row for ${owner}`);
  const columns = header.split(",");
  const cells = row.split(",");
  // Both keys were made in the same second: either may be key 1; one of them signed STS.
  const regions = [1, 2].map((n) => cells[columns.indexOf(`access_key_${n}_last_used_region`)]);
  expect("GetCredentialReport", !fresh || regions.includes(stsRegion),
    `access_key_N_last_used_region ${regions}, expected ${stsRegion}`);

  // --- CloudTrail LookupEvents: pages by NextToken, by the paginator, and an error
  const filter = { LookupAttributes: [{ AttributeKey: "Username", AttributeValue: users[0] }] };
  const first = await call("LookupEvents (MaxResults 2)", () =>
    cloudtrail.send(new LookupEventsCommand({ ...filter, MaxResults: 2 })),
  );
  expect("LookupEvents (MaxResults 2)", first.Events?.length === 2 && Boolean(first.NextToken),
    `${first.Events?.length} events, NextToken ${first.NextToken}`);
  const second = await call("LookupEvents (NextToken)", () =>
    cloudtrail.send(new LookupEventsCommand({ ...filter, MaxResults: 2, NextToken: first.NextToken })),
  );
  expect("LookupEvents (NextToken)", second.Events?.length > 0
    && second.Events[0].EventId !== first.Events[0].EventId, "the second page repeats the first");
  const all = await collect(
    "LookupEvents (paginator)",
    paginateLookupEvents({ client: cloudtrail, pageSize: 3 }, filter),
    "Events",
  );
  expect("LookupEvents (paginator)", all.pages >= 2, `${all.pages} pages`);
  for (const event of all.items) {
    expect("LookupEvents (paginator)", isDate(event.EventTime), "EventTime is not a date");
    const record = JSON.parse(event.CloudTrailEvent);
    expect("LookupEvents (paginator)", record.eventID === event.EventId, "eventID");
    if (record.eventSource === "sts.amazonaws.com") {
      expect("LookupEvents (paginator)", record.awsRegion === stsRegion,
        `STS event awsRegion ${record.awsRegion}, expected ${stsRegion}`);
    }
  }
  const names = new Set(all.items.map((event) => event.EventName));
  for (const name of ["GetCallerIdentity", "GetSessionToken", "AssumeRole"]) {
    expect("LookupEvents (paginator)", names.has(name), `no ${name} event by ${users[0]}`);
  }
  await refused("LookupEvents (MaxResults 51)", "InvalidMaxResultsException", 400, () =>
    cloudtrail.send(new LookupEventsCommand({ MaxResults: 51 })),
  );

  // --- clean up: every delete must succeed
  await call("RemoveRoleFromInstanceProfile", () =>
    iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: profile, RoleName: role })),
  );
  await call("DeleteInstanceProfile", () =>
    iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: profile })),
  );
  await call("DeleteVirtualMFADevice", () =>
    iam.send(new DeleteVirtualMFADeviceCommand({ SerialNumber: mfa.VirtualMFADevice.SerialNumber })),
  );
  await call("DeleteLoginProfile", () =>
    iam.send(new DeleteLoginProfileCommand({ UserName: users[1] })),
  );
  await call("DeleteRolePolicy", () =>
    iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: "read" })),
  );
  await call("DeleteRole", () => iam.send(new DeleteRoleCommand({ RoleName: role })));
  for (const k of keys.items) {
    await call("UpdateAccessKey", () =>
      iam.send(new UpdateAccessKeyCommand({
        UserName: users[0], AccessKeyId: k.AccessKeyId, Status: "Inactive",
      })),
    );
    await call("DeleteAccessKey", () =>
      iam.send(new DeleteAccessKeyCommand({ UserName: users[0], AccessKeyId: k.AccessKeyId })),
    );
  }
  await call("DeleteUserPolicy", () =>
    iam.send(new DeleteUserPolicyCommand({ UserName: users[0], PolicyName: "assume-and-sessions" })),
  );
  await call("DetachUserPolicy", () =>
    iam.send(new DetachUserPolicyCommand({ UserName: users[0], PolicyArn: policyArn })),
  );
  await call("DeletePolicy", () => iam.send(new DeletePolicyCommand({ PolicyArn: policyArn })));
  for (const UserName of users) {
    await call("RemoveUserFromGroup", () =>
      iam.send(new RemoveUserFromGroupCommand({ GroupName: group, UserName })),
    );
    await call("DeleteUser", () => iam.send(new DeleteUserCommand({ UserName })));
  }
  await call("DeleteGroup", () => iam.send(new DeleteGroupCommand({ GroupName: group })));
  console.log(`ok: JS SDK workload ${run} passed`);
}

main().catch((error) => fail("workload", error?.stack ?? String(error)));
