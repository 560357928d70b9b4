/** The R-ROLE Cognito groups, exactly as `nas.domain.roles.Role` names them. */
export const Role = {
  INVESTIGATOR: "investigator",
  SENIOR_INVESTIGATOR: "senior-investigator",
  AUTHORISER: "authoriser",
  VOI_MANAGER: "voi-manager",
  OPERATOR: "operator",
  AUDITOR: "auditor",
  DPO: "dpo",
  ANALYST: "analyst",
  ADMIN: "admin",
} as const;

export type Role = (typeof Role)[keyof typeof Role];
